package rdp

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/onepam/onepam/agent/proxy/rdp/bitmap"
	"github.com/onepam/onepam/agent/proxy/rdp/vchan"
	"github.com/onepam/onepam/agent/proxy/rdp/wire"
	"github.com/onepam/onepam/pkg/relay"
)

// rdpRelay carries one RDP client connection: the client leg's security
// layer and MCS connection, then a client-to-server and a
// server-to-client loop that decode, record and forward every PDU.
//
// Both legs use the same MCS ids: the client is given the server's
// user id, I/O channel, channel ids and share id, so PDUs pass through
// unchanged except those the agent rewrites (Client Info, Demand and
// Confirm Active) or drops (the data of channels it withholds).
type rdpRelay struct {
	s      *session
	id     int64
	client net.Conn
	ctls   *tls.Conn
	t      *targetConn

	cmu sync.Mutex // writes to the client

	clientRequested uint32
	ioChannel       uint16
	msgChannel      uint16
	userID          uint16
	blocked         map[uint16]bool // withheld channels: their data is dropped both ways
	infoDone        bool
	audit           *vchan.Audit // clipboard and drive activity
	dump            *dumper      // debug dump of the PDUs read (nil: none)

	// server → client
	width, height int
	pal           bitmap.Palette
	updates       []wire.FastPathUpdate
	bmps          []bitmap.Data
	pix           []byte
	frag          []byte // reassembled fragmented fast-path update
	fragCode      int    // -1: none in progress
	held          []byte // fast-path PDUs held until their fragments are complete

	// client → server
	events  []wire.InputEvent
	buttons uint32
	px, py  int
}

func newRelay(s *session, id int64, client net.Conn, t *targetConn) *rdpRelay {
	r := &rdpRelay{s: s, id: id, client: client, t: t, blocked: map[uint16]bool{}, fragCode: -1}
	r.audit = vchan.NewAudit(vchan.Config{TextMax: s.p.cfg.ClipboardCap}, r.audited)
	return r
}

// pduReader reads the PDUs of one leg (wire.Reader, or dumpReader).
type pduReader interface {
	Next() (wire.Kind, []byte, error)
	Buffered() int
}

// protocolError is malformed or refused protocol content.
func protocolError(format string, args ...any) error {
	return fmt.Errorf("rdp: "+format, args...)
}

func (r *rdpRelay) writeClient(b []byte) error {
	r.cmu.Lock()
	defer r.cmu.Unlock()
	_, err := r.ctls.Write(b)
	return err
}

// run serves the client leg up to the MCS connect response, then relays.
func (r *rdpRelay) run() error {
	hs := r.s.p.cfg.HandshakeTimeout
	r.client.SetDeadline(time.Now().Add(hs))
	r.t.raw.SetDeadline(time.Now().Add(hs))
	if err := r.clientSecurity(); err != nil {
		return err
	}
	var crd, trd pduReader = wire.NewReader(r.ctls), wire.NewReader(r.t.tls)
	if r.dump != nil {
		crd = dumpReader{crd.(*wire.Reader), r.dump, dumpFromClient}
		trd = dumpReader{trd.(*wire.Reader), r.dump, dumpFromServer}
	}
	if err := r.connectMCS(crd, trd); err != nil {
		return err
	}
	r.client.SetDeadline(time.Time{})
	r.t.raw.SetDeadline(time.Time{})

	errc := make(chan error, 2)
	go func() { errc <- r.serverToClient(trd) }()
	go func() { errc <- r.clientToServer(crd) }()
	err := <-errc
	relay.Abort(r.client)
	relay.Abort(r.t.raw)
	err2 := <-errc
	r.audit.Flush()
	if err == nil || isClosed(err) {
		if err2 != nil && !isClosed(err2) {
			err = err2
		} else {
			err = nil
		}
	}
	return err
}

// isClosed reports the ordinary end of a connection.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, errDisconnect) || strings.Contains(err.Error(), "connection reset by peer") ||
		strings.Contains(err.Error(), "broken pipe") || strings.Contains(err.Error(), "i/o timeout")
}

var errDisconnect = errors.New("rdp: disconnected")

// clientSecurity answers the client's X.224 connection request with TLS
// and runs the TLS handshake as a server.
func (r *rdpRelay) clientSecurity() error {
	rd := wire.NewReader(r.client)
	_, pdu, err := rd.Next()
	if err != nil {
		return fmt.Errorf("read the client's connection request: %w", err)
	}
	cr, err := wire.ParseConnectionRequest(pdu)
	if err != nil {
		return fmt.Errorf("client connection request: %w", err)
	}
	refuse := func(why string) error {
		r.client.Write(wire.AppendConnectionConfirm(nil, true, 0, wire.NegFailureSSLRequired))
		return protocolError("refused the RDP client: %s", why)
	}
	switch {
	case !cr.HasNeg || cr.Protocols&wire.ProtocolSSL == 0:
		return refuse(fmt.Sprintf("it offers security protocols 0x%x without TLS; the agent accepts TLS only (no NLA or standard RDP security towards the client: the gateway has authenticated the person)", cr.Protocols))
	case cr.NegFlags&wire.NegReqRestrictedAdmin != 0:
		return refuse("it requires restricted admin mode")
	case cr.NegFlags&wire.NegReqRedirectedAuth != 0:
		return refuse("it requires redirected authentication (Remote Credential Guard)")
	}
	r.clientRequested = cr.Protocols
	if rd.Buffered() != 0 {
		return protocolError("the client sent bytes before TLS")
	}
	if _, err := r.client.Write(wire.AppendConnectionConfirm(nil, false, wire.NegRspExtendedClientData, wire.ProtocolSSL)); err != nil {
		return err
	}
	cert, err := r.s.p.serverCert()
	if err != nil {
		return err
	}
	r.ctls = tls.Server(r.client, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS10})
	if err := r.ctls.Handshake(); err != nil {
		return fmt.Errorf("TLS with the RDP client: %w", err)
	}
	return nil
}

// connectMCS carries the MCS Connect-Initial to the server and the
// Connect-Response back, rewriting the GCC data of both.
func (r *rdpRelay) connectMCS(crd, trd pduReader) error {
	_, pdu, err := crd.Next()
	if err != nil {
		return fmt.Errorf("read the client's MCS connect initial: %w", err)
	}
	mcs, err := wire.X224Payload(pdu)
	if err != nil {
		return fmt.Errorf("client MCS connect initial: %w", err)
	}
	ci, err := wire.ParseConnectInitial(mcs)
	if err != nil {
		return fmt.Errorf("client MCS connect initial: %w", err)
	}
	blocks, err := wire.ParseGCC(ci.UserData, false)
	if err != nil {
		return fmt.Errorf("client GCC data: %w", err)
	}
	core := blocks.Find(wire.CSCore)
	if core == nil || len(core.Data) < wire.CoreColorDepth+2 {
		return protocolError("the client's GCC data has no core block")
	}
	if len(core.Data) >= wire.CoreServerSelProto+4 {
		putU32(core.Data[wire.CoreServerSelProto:], r.t.selected)
	}
	if len(core.Data) >= wire.CoreEarlyCapFlags+2 {
		f := getU16(core.Data[wire.CoreEarlyCapFlags:])
		f &^= wire.EarlyCapDynvcGFX | wire.EarlyCapNetcharAutoDetect | wire.EarlyCapSkipChannelJoin
		putU16(core.Data[wire.CoreEarlyCapFlags:], f)
	}
	var clientChans []wire.Channel
	keep := []bool{}
	if nb := blocks.Find(wire.CSNet); nb != nil {
		if clientChans, err = wire.ParseClientNet(nb.Data); err != nil {
			return fmt.Errorf("client network data: %w", err)
		}
		for _, c := range clientChans {
			why := r.withhold(c.Name)
			keep = append(keep, why == "")
			if why != "" {
				r.s.log.Info("rdp: withholding a virtual channel's data from the server", "conn", r.id, "channel", c.Name, "why", why)
			}
		}
	}
	blocks = blocks.Remove(wire.CSMultitransport)
	ci.UserData = wire.AppendGCC(nil, false, blocks)
	body := ci.Append(nil)
	if _, err := r.t.tls.Write(append(wire.AppendX224Data(nil, len(body)), body...)); err != nil {
		return fmt.Errorf("send MCS connect initial: %w", err)
	}

	_, pdu, err = trd.Next()
	if err != nil {
		return fmt.Errorf("read the server's MCS connect response: %w", err)
	}
	if mcs, err = wire.X224Payload(pdu); err != nil {
		return fmt.Errorf("server MCS connect response: %w", err)
	}
	resp, err := wire.ParseConnectResponse(mcs)
	if err != nil {
		return fmt.Errorf("server MCS connect response: %w", err)
	}
	if resp.Result != 0 {
		return protocolError("the server refused the MCS connection (result %d)", resp.Result)
	}
	sblocks, err := wire.ParseGCC(resp.UserData, true)
	if err != nil {
		return fmt.Errorf("server GCC data: %w", err)
	}
	if sc := sblocks.Find(wire.SCCore); sc != nil {
		if len(sc.Data) >= wire.SCCoreRequestedProtocols+4 {
			putU32(sc.Data[wire.SCCoreRequestedProtocols:], r.clientRequested)
		}
		if len(sc.Data) >= wire.SCCoreEarlyCapFlags+4 {
			putU32(sc.Data[wire.SCCoreEarlyCapFlags:], getU32(sc.Data[wire.SCCoreEarlyCapFlags:])&^wire.SCEarlyCapSkipChannelJoin)
		}
	}
	if ss := sblocks.Find(wire.SCSecurity); ss != nil && len(ss.Data) >= 8 && (getU32(ss.Data) != 0 || getU32(ss.Data[4:]) != 0) {
		return protocolError("the server asks for standard RDP encryption (method %d level %d) under TLS", getU32(ss.Data), getU32(ss.Data[4:]))
	}
	nb := sblocks.Find(wire.SCNet)
	if nb == nil {
		return protocolError("the server's GCC data has no network block")
	}
	sn, err := wire.ParseServerNet(nb.Data)
	if err != nil {
		return fmt.Errorf("server network data: %w", err)
	}
	r.ioChannel = sn.IOChannel
	if len(sn.IDs) != len(keep) {
		r.s.log.Warn("rdp: the server assigned channel ids to some of the client's channels only", "conn", r.id, "ids", len(sn.IDs), "channels", len(keep))
	}
	for i, id := range sn.IDs[:min(len(sn.IDs), len(keep))] {
		if !keep[i] {
			r.blocked[id] = true
		} else {
			r.audit.Join(id, clientChans[i].Name)
		}
	}
	r.recordChannels(clientChans, keep)
	if mc := sblocks.Find(wire.SCMCSMsgChannel); mc != nil && len(mc.Data) >= 2 {
		r.msgChannel = getU16(mc.Data)
	}
	sblocks = sblocks.Remove(wire.SCMultitransport)
	resp.UserData = wire.AppendGCC(nil, true, sblocks)
	body = resp.Append(nil)
	if err := r.writeClient(append(wire.AppendX224Data(nil, len(body)), body...)); err != nil {
		return fmt.Errorf("send MCS connect response: %w", err)
	}
	return nil
}

// clientToServer relays the client's PDUs to the server.
func (r *rdpRelay) clientToServer(rd pduReader) error {
	var out []byte
	for {
		kind, pdu, err := rd.Next()
		if err != nil {
			return fmt.Errorf("from the client: %w", err)
		}
		if kind == wire.KindFastPath {
			if r.events, err = wire.ParseFastPathInput(pdu, r.events); err != nil {
				return fmt.Errorf("client fast-path input: %w", err)
			}
			if err := r.recordInput(r.events); err != nil {
				return err
			}
			if _, err := r.t.tls.Write(pdu); err != nil {
				return err
			}
			if err := r.flushIfIdle(rd); err != nil {
				return err
			}
			continue
		}
		fwd, err := r.clientTPKT(pdu, &out)
		if err != nil {
			return err
		}
		if fwd != nil {
			if _, err := r.t.tls.Write(fwd); err != nil {
				return err
			}
		}
		if len(pdu) >= 6 && pdu[5]&0xF0 == 0x80 {
			return errDisconnect // X.224 disconnect request
		}
	}
}

// clientTPKT inspects one slow-path PDU from the client and returns what
// to forward (nil: nothing).
func (r *rdpRelay) clientTPKT(pdu []byte, out *[]byte) ([]byte, error) {
	if len(pdu) < 6 || pdu[5] != 0xF0 {
		return pdu, nil
	}
	mcs, err := wire.X224Payload(pdu)
	if err != nil {
		return nil, fmt.Errorf("from the client: %w", err)
	}
	d, err := wire.ParseDomainPDU(mcs)
	if err != nil {
		return nil, fmt.Errorf("from the client: %w", err)
	}
	switch d.Type {
	case wire.MCSSendDataRequest:
		if r.blocked[d.Channel] {
			return nil, nil // a withheld channel
		}
		r.auditChannel(d.Channel, vchan.ToServer, d.Data)
		if d.Channel == r.ioChannel {
			data, err := r.clientIO(d.Data)
			if err != nil {
				return nil, err
			}
			if data != nil {
				*out = wire.AppendSendData((*out)[:0], false, d.Initiator, d.Channel, data)
				return *out, nil
			}
		}
	}
	return pdu, nil
}

// clientIO inspects the client's I/O channel data; it returns rewritten
// data, or nil to forward the original.
func (r *rdpRelay) clientIO(data []byte) ([]byte, error) {
	if !r.infoDone {
		ci, err := wire.ParseClientInfo(data)
		if err != nil {
			return nil, fmt.Errorf("client info PDU: %w", err)
		}
		r.infoDone = true
		ci.Domain, ci.User, ci.Password = r.s.tc.Domain, r.s.tc.Username, r.s.password()
		ci.Flags |= wire.InfoAutologon
		ci.Flags &^= wire.InfoCompression | wire.InfoCompressionMask
		return ci.Append(nil), nil
	}
	if !wire.IsShareControl(data) {
		return nil, nil // licensing and other PDUs with a security header
	}
	sc, rest, err := wire.ParseShareControl(data)
	if err != nil {
		return nil, fmt.Errorf("from the client: %w", err)
	}
	switch sc.Type {
	case wire.PDUConfirmActive:
		a, err := wire.ParseActive(sc.Body, true)
		if err != nil {
			return nil, fmt.Errorf("client confirm active: %w", err)
		}
		restrictCaps(a)
		out := wire.AppendShareControl(nil, wire.PDUConfirmActive, sc.Source, a.Append(nil))
		return append(out, rest...), nil
	case wire.PDUData:
		for {
			if sc.Type == wire.PDUData {
				sd, err := wire.ParseShareData(sc.Body)
				if err != nil {
					return nil, fmt.Errorf("from the client: %w", err)
				}
				if sd.Type2 == wire.PDU2Input {
					if r.events, err = wire.ParseSlowPathInput(sd.Body, r.events); err != nil {
						return nil, fmt.Errorf("client input: %w", err)
					}
					if err := r.recordInput(r.events); err != nil {
						return nil, err
					}
				}
			}
			if len(rest) == 0 {
				break
			}
			if sc, rest, err = wire.ParseShareControl(rest); err != nil {
				return nil, fmt.Errorf("from the client: %w", err)
			}
		}
	}
	return nil, nil
}

// serverToClient relays the server's PDUs to the client.
func (r *rdpRelay) serverToClient(rd pduReader) error {
	var out []byte
	for {
		kind, pdu, err := rd.Next()
		if err != nil {
			return fmt.Errorf("from the server: %w", err)
		}
		if kind == wire.KindFastPath {
			if err := r.fastPathOutput(pdu); err != nil {
				return err
			}
			if err := r.flushIfIdle(rd); err != nil {
				return err
			}
			continue
		}
		fwd, err := r.serverTPKT(pdu, &out)
		if err != nil {
			return err
		}
		if fwd != nil {
			if err := r.writeClient(fwd); err != nil {
				return err
			}
		}
		if err := r.flushIfIdle(rd); err != nil {
			return err
		}
		if len(pdu) >= 8 && pdu[5] == 0xF0 && pdu[7]>>2 == wire.MCSDisconnectUltimatum || len(pdu) >= 6 && pdu[5]&0xF0 == 0x80 {
			return errDisconnect
		}
	}
}

func (r *rdpRelay) serverTPKT(pdu []byte, out *[]byte) ([]byte, error) {
	if len(pdu) < 6 || pdu[5] != 0xF0 {
		return pdu, nil
	}
	mcs, err := wire.X224Payload(pdu)
	if err != nil {
		return nil, fmt.Errorf("from the server: %w", err)
	}
	d, err := wire.ParseDomainPDU(mcs)
	if err != nil {
		return nil, fmt.Errorf("from the server: %w", err)
	}
	switch d.Type {
	case wire.MCSAttachUserConfirm:
		r.userID = d.Initiator
	case wire.MCSSendDataIndication:
		if r.blocked[d.Channel] {
			return nil, nil // a withheld channel
		}
		r.auditChannel(d.Channel, vchan.ToClient, d.Data)
		if d.Channel == r.ioChannel || d.Channel == r.msgChannel && r.msgChannel != 0 {
			data, err := r.serverIO(d.Data)
			if err != nil {
				return nil, err
			}
			if data != nil {
				*out = wire.AppendSendData((*out)[:0], true, d.Initiator, d.Channel, data)
				return *out, nil
			}
		}
	}
	return pdu, nil
}

// serverIO inspects the server's I/O channel data, recording what it
// draws; it returns rewritten data, or nil to forward the original.
func (r *rdpRelay) serverIO(data []byte) ([]byte, error) {
	if !wire.IsShareControl(data) {
		if len(data) >= 2 && getU16(data)&wire.SecRedirectionPkt != 0 {
			return nil, protocolError("the server redirects the client to another server, which the agent refuses")
		}
		return nil, nil
	}
	var rewritten []byte
	for rest := data; len(rest) > 0; {
		sc, next, err := wire.ParseShareControl(rest)
		if err != nil {
			return nil, fmt.Errorf("from the server: %w", err)
		}
		switch sc.Type {
		case wire.PDUServerRedir:
			return nil, protocolError("the server redirects the client to another server, which the agent refuses")
		case wire.PDUDemandActive:
			a, err := wire.ParseActive(sc.Body, false)
			if err != nil {
				return nil, fmt.Errorf("server demand active: %w", err)
			}
			if err := r.resize(a); err != nil {
				return nil, err
			}
			restrictCaps(a)
			rewritten = wire.AppendShareControl(nil, wire.PDUDemandActive, sc.Source, a.Append(nil))
			return append(rewritten, next...), nil
		case wire.PDUData:
			sd, err := wire.ParseShareData(sc.Body)
			if err != nil {
				return nil, fmt.Errorf("from the server: %w", err)
			}
			if err := r.serverData(sd); err != nil {
				return nil, err
			}
		}
		rest = next
	}
	return nil, nil
}

// serverData records one share data PDU from the server.
func (r *rdpRelay) serverData(sd *wire.ShareData) error {
	switch sd.Type2 {
	case wire.PDU2Update:
		if len(sd.Body) < 2 {
			return protocolError("short update PDU")
		}
		return r.update(slowUpdateCode(getU16(sd.Body)), sd.Body)
	case wire.PDU2Pointer:
		if len(sd.Body) >= 8 && getU16(sd.Body) == 3 { // TS_PTRMSGTYPE_POSITION
			return rec(r.s.enc.CursorPos(r.s.since(), int(getU16(sd.Body[4:])), int(getU16(sd.Body[6:]))))
		}
	case wire.PDU2PlaySound:
		return rec(r.s.enc.Bell(r.s.since()))
	}
	return nil
}

// slowUpdateCode maps a slow-path updateType to the fast-path code.
func slowUpdateCode(t uint16) int {
	switch t {
	case 0:
		return wire.FPUpdateOrders
	case 1:
		return wire.FPUpdateBitmap
	case 2:
		return wire.FPUpdatePalette
	case 3:
		return wire.FPUpdateSynchronize
	}
	return 0x100 + int(t)
}

// fastPathOutput decodes one fast-path output PDU and forwards it once
// every update in it is recorded (fragments are held until the last).
func (r *rdpRelay) fastPathOutput(pdu []byte) error {
	var err error
	if r.updates, err = wire.ParseFastPathOutput(pdu, r.updates); err != nil {
		return fmt.Errorf("server fast-path output: %w", err)
	}
	for _, u := range r.updates {
		if u.Compression != 0 {
			return protocolError("the server sent a bulk-compressed update although compression was not negotiated")
		}
		switch u.Frag {
		case wire.FragSingle:
			if r.fragCode >= 0 {
				return protocolError("fast-path update inside a fragmented one")
			}
			if err := r.update(int(u.Code), u.Data); err != nil {
				return err
			}
		case wire.FragFirst:
			if r.fragCode >= 0 {
				return protocolError("fast-path fragment order")
			}
			r.fragCode, r.frag = int(u.Code), append(r.frag[:0], u.Data...)
		case wire.FragNext, wire.FragLast:
			if r.fragCode != int(u.Code) {
				return protocolError("fast-path fragment of update %d without its first fragment", u.Code)
			}
			if len(r.frag)+len(u.Data) > 16<<20 {
				return protocolError("fast-path fragmented update beyond 16 MiB")
			}
			r.frag = append(r.frag, u.Data...)
			if u.Frag == wire.FragLast {
				code := r.fragCode
				r.fragCode = -1
				if err := r.update(code, r.frag); err != nil {
					return err
				}
			}
		}
	}
	r.held = append(r.held, pdu...)
	if r.fragCode >= 0 {
		return nil
	}
	err = r.writeClient(r.held)
	r.held = r.held[:0]
	return err
}

// update records one update (fast-path code, or a slow-path type mapped
// onto it). Anything the agent cannot render fails the connection.
func (r *rdpRelay) update(code int, data []byte) error {
	t := r.s.since()
	switch code {
	case wire.FPUpdateBitmap:
		return r.bitmaps(t, data)
	case wire.FPUpdatePalette:
		if err := bitmap.ParsePalette(data, &r.pal); err != nil {
			return fmt.Errorf("server palette: %w", err)
		}
	case wire.FPUpdatePtrPosition:
		if len(data) >= 4 {
			return rec(r.s.enc.CursorPos(t, int(getU16(data)), int(getU16(data[2:]))))
		}
	case wire.FPUpdateSynchronize, wire.FPUpdatePtrNull, wire.FPUpdatePtrDefault, wire.FPUpdateColorPointer,
		wire.FPUpdateCachedPtr, wire.FPUpdatePointer, wire.FPUpdateLargePointer:
	case wire.FPUpdateOrders:
		return protocolError("the server sent drawing orders although the agent disabled them; the recording cannot render them, so the session is closed")
	case wire.FPUpdateSurfCmds:
		return protocolError("the server sent surface commands (codec-encoded graphics) although the agent did not offer them; the session is closed")
	default:
		return protocolError("the server sent update type %d, which the agent cannot record; the session is closed", code)
	}
	return nil
}

// bitmaps decodes a bitmap update into the recording.
func (r *rdpRelay) bitmaps(t time.Duration, data []byte) error {
	var err error
	if r.bmps, err = bitmap.ParseUpdate(data, r.bmps); err != nil {
		return fmt.Errorf("server bitmap update: %w", err)
	}
	for i := range r.bmps {
		d := &r.bmps[i]
		if r.pix, err = bitmap.Decode(d, &r.pal, r.pix); err != nil {
			return fmt.Errorf("server bitmap update: %w", err)
		}
		w := min(d.Right-d.Left+1, d.Width, r.width-d.Left)
		h := min(d.Bottom-d.Top+1, d.Height, r.height-d.Top)
		if w <= 0 || h <= 0 {
			continue
		}
		rect := imageRect(d.Left, d.Top, w, h)
		if err := r.s.enc.Rect(t, rect, r.pix, d.Width*4); err != nil {
			return rec(err)
		}
	}
	return nil
}

// flushIfIdle hands the recording's buffered events to the recorder
// when nothing more is waiting on rd, so that a live view lags by one
// burst of updates at most.
func (r *rdpRelay) flushIfIdle(rd pduReader) error {
	if rd.Buffered() == 0 {
		return rec(r.s.enc.Flush())
	}
	return nil
}
