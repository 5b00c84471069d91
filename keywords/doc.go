// Package keywords is the catalog of opt-out and opt-in words: how a message is normalized, which words
// belong to which intent and language, and which language a match answers in.
package keywords
