package proxy

// IsCommonField reports whether key is one of the fields every agent.yaml
// resource entry has (name, type, address, url, labels, description).
// The agent reads them; a protocol's own settings parser skips them and
// rejects any other key it does not know.
func IsCommonField(key string) bool {
	switch key {
	case "name", "type", "address", "url", "labels", "description":
		return true
	}
	return false
}
