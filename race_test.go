//go:build race

package main

// raceEnabled says that the race detector is on: its shadow memory makes a
// process's footprint no measure of the service's.
const raceEnabled = true
