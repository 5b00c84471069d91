//go:build !race

package store

// largeChange is how many contacts TestCommitLargeChange commits: a list import-contacts commits at once.
const largeChange = 100_000
