package scp

// isWindows: a backslash separates paths locally, so a name from the
// server may not hold one.
const isWindows = true
