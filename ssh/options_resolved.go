package ssh

import (
	"maps"

	"github.com/libssh-go/libssh/sshconfig"
)

// ApplyConfig sets the session's options from a resolution the caller made
// with sshconfig.Resolve, instead of letting Connect or OptionsParseConfig
// resolve the host again. It is for programs that resolve with their own
// sshconfig.Input, such as an ssh(1)-like command whose -o, -l and -p
// values must be seen by Match blocks and print the same as `ssh -G`: every
// keyword the resolution set, from a file or from the Input, is applied,
// except those already set through SetOption, which win as they do for
// OptionsParseConfig. The host to connect to becomes cfg.Hostname().
//
// configFile is the file ProxyJump hops read their own configuration from,
// as ssh passes -F on to them: "" for the default files, "none" for none.
// After ApplyConfig, Connect does not process the configuration again.
//
// Errors are *ConfigError values naming the keyword's file and line
// (joined when several), as OptionsParseConfig returns; on error the
// options are left unchanged.
func (s *Session) ApplyConfig(cfg *sshconfig.Config, configFile string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.opts.clone()
	explicit := maps.Clone(s.explicit)
	if err := applyConfig(&next, explicit, cfg, next.logger(), true); err != nil {
		return err
	}
	next.configParsed = true
	next.configPath = configFile
	s.opts = next
	return nil
}
