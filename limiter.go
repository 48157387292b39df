package main

// The bound on guessing: failed sign-ins counted by key (an account's name,
// a client's address) in a sliding window.

import (
	"sync"
	"time"
)

const (
	maxGuesses   = 10               // failed sign-ins a key may have in a window
	guessWindow  = 15 * time.Minute // the window
	maxGuessKeys = 100_000          // keys kept at most, so that memory stays bounded
)

// guessLimiter keeps, per key, the times of its last failures, at most
// maxGuesses of them.
type guessLimiter struct {
	mu    sync.Mutex
	fails map[string][]time.Time
}

// wait returns how long any of keys must still wait before it may try
// again: 0 when none has had maxGuesses failures within the window.
func (g *guessLimiter) wait(now time.Time, keys ...string) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	var wait time.Duration
	for _, key := range keys {
		if times := g.fails[key]; len(times) == maxGuesses {
			wait = max(wait, times[0].Add(guessWindow).Sub(now))
		}
	}
	return wait
}

// fail counts a failure of each of keys at now.
func (g *guessLimiter) fail(now time.Time, keys ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fails == nil {
		g.fails = map[string][]time.Time{}
	}
	if len(g.fails) >= maxGuessKeys {
		g.forgetOld(now)
	}
	for _, key := range keys {
		times := g.fails[key]
		if len(times) == maxGuesses {
			times = times[1:]
		}
		g.fails[key] = append(times, now)
	}
}

// forgetOld drops the keys whose last failure has left the window; if that
// leaves the map full, it starts over, which lets some guesses through
// rather than grow without bound.
func (g *guessLimiter) forgetOld(now time.Time) {
	for key, times := range g.fails {
		if now.Sub(times[len(times)-1]) >= guessWindow {
			delete(g.fails, key)
		}
	}
	if len(g.fails) >= maxGuessKeys {
		clear(g.fails)
	}
}
