//go:build race

package media_test

// raceEnabled lets the full-size photo tests step aside under the race
// detector, which makes decoding 12 megapixels take most of a minute while
// adding nothing: their concurrency is the small tests' concurrency.
const raceEnabled = true
