//go:build !race

package store

// largeChange is how many contacts TestCommitLargeChange commits: as many as import-optouts commits at once.
const largeChange = 100_000
