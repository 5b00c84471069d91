//go:build race

package store

// largeChange is how many contacts TestCommitLargeChange commits: fewer under the race detector, which makes the
// pure-Go SQLite ten times slower, and looks for races rather than timing anything.
const largeChange = 10_000
