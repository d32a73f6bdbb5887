//go:build race

package sftp

// raceEnabled is true under -race, where large transfers are several times slower.
const raceEnabled = true
