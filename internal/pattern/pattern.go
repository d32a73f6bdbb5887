// Package pattern is OpenSSH's wildcard matching, shared by the ssh_config
// resolver and the known_hosts database.
package pattern

// Match reports whether name matches pattern, where "*" matches any run of
// bytes (also none) and "?" exactly one byte; every other byte matches
// itself. known_hosts and ssh_config patterns both use it. It is the
// classic two-pointer algorithm: on a mismatch it goes back to the last "*"
// seen and lets it swallow one more byte. Earlier stars never need
// revisiting, because the last star can absorb whatever an earlier one
// would have, so the work is at most len(name)*len(pattern) steps whatever
// the number of stars (OpenSSH's and x/crypto's recursive matchers are
// exponential in it).
func Match(pattern, name string) bool {
	p, n := 0, 0
	star, resume := -1, 0 // the last star's index, and where its match ends
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, resume = p, n
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == name[n]):
			p++
			n++
		case star >= 0:
			resume++
			p, n = star+1, resume
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
