package rdp

import "github.com/onepam/onepam/agent/proxy/rdp/wire"

// deskproto pointer button bits.
const (
	btnLeft    = 1 << 0
	btnMiddle  = 1 << 1
	btnRight   = 1 << 2
	btnWheelUp = 1 << 3
	btnWheelDn = 1 << 4
	btnWheelL  = 1 << 5
	btnWheelR  = 1 << 6
	btnBack    = 1 << 7
	btnForward = 1 << 8
)

// recordInput records keyboard and pointer events: scan codes (+0x100
// for the E0 prefix) and Unicode input as deskproto Key events, pointer
// moves, buttons and wheels as Pointer events with the button mask.
func (r *rdpRelay) recordInput(evs []wire.InputEvent) error {
	t := r.s.since()
	enc := r.s.enc
	for _, ev := range evs {
		var err error
		switch ev.Kind {
		case wire.InputScancode:
			sc := uint32(ev.Code)
			if ev.Flags&wire.KbdExtended != 0 {
				sc += 0x100
			}
			err = enc.Key(t, ev.Flags&wire.KbdRelease == 0, 0, sc)
		case wire.InputUnicode:
			err = enc.Key(t, ev.Flags&wire.KbdRelease == 0, 0x01000000+uint32(ev.Code), 0)
		case wire.InputMouse:
			f := ev.Flags
			switch {
			case f&(wire.PtrWheel|wire.PtrHWheel) != 0:
				bit := uint32(btnWheelUp)
				switch {
				case f&wire.PtrWheel != 0 && f&wire.PtrWheelNegative != 0:
					bit = btnWheelDn
				case f&wire.PtrHWheel != 0 && f&wire.PtrWheelNegative != 0:
					bit = btnWheelL
				case f&wire.PtrHWheel != 0:
					bit = btnWheelR
				}
				if err = enc.Pointer(t, r.px, r.py, r.buttons|bit); err == nil {
					err = enc.Pointer(t, r.px, r.py, r.buttons)
				}
			default:
				r.px, r.py = int(ev.X), int(ev.Y)
				r.buttons = setButton(r.buttons, f&wire.PtrButton1 != 0, btnLeft, f&wire.PtrDown != 0)
				r.buttons = setButton(r.buttons, f&wire.PtrButton2 != 0, btnRight, f&wire.PtrDown != 0)
				r.buttons = setButton(r.buttons, f&wire.PtrButton3 != 0, btnMiddle, f&wire.PtrDown != 0)
				err = enc.Pointer(t, r.px, r.py, r.buttons)
			}
		case wire.InputMouseX:
			f := ev.Flags
			r.px, r.py = int(ev.X), int(ev.Y)
			r.buttons = setButton(r.buttons, f&wire.PtrXButton1 != 0, btnBack, f&wire.PtrDown != 0)
			r.buttons = setButton(r.buttons, f&wire.PtrXButton2 != 0, btnForward, f&wire.PtrDown != 0)
			err = enc.Pointer(t, r.px, r.py, r.buttons)
		}
		if err != nil {
			return rec(err)
		}
	}
	return nil
}

func setButton(mask uint32, touched bool, bit uint32, down bool) uint32 {
	if !touched {
		return mask
	}
	if down {
		return mask | bit
	}
	return mask &^ bit
}
