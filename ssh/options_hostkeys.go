package ssh

import "github.com/libssh-go/libssh/knownhosts"

// HostKeyAlias makes known_hosts lookups and records use alias instead of
// the host name and port (OpenSSH HostKeyAlias), for instance for several
// servers behind one address, or a tunnel to localhost. The alias is used as
// it is, without "[...]:port", and is the name a host certificate must list.
// "" or "none" clears it. A value with white space, control characters,
// commas or pattern characters is refused, since it could not be recorded
// as a single host.
func HostKeyAlias(alias string) Option {
	return Option{"HostKeyAlias", func(o *Options) error {
		if alias == "" || alias == "none" {
			o.HostKeyAlias = ""
			return nil
		}
		if err := knownhosts.CheckHostName(alias); err != nil {
			return &OptionError{Option: "HostKeyAlias", Value: alias, Err: err}
		}
		o.HostKeyAlias = alias
		return nil
	}}
}

// CheckHostIP makes IsKnownServer, and the StrictHostKeyChecking policy,
// also look the server's IP address up in known_hosts, and
// UpdateKnownHostsFile record it (OpenSSH CheckHostIP). A key recorded for
// the host but different from the one recorded for the address then reads
// KnownHostsChanged, which detects DNS spoofing. The default is false, as in
// OpenSSH 8.5 and later. It has no effect when the host is given as that
// address, or when the transport is not TCP (Socket with another net.Conn).
func CheckHostIP(enable bool) Option {
	return Option{"CheckHostIP", func(o *Options) error { o.CheckHostIP = enable; return nil }}
}
