package transport

// HoldInlineRuns makes the watch hand off no inline run for the rest of
// the test: a turn that waits is then handed off only by what it says.
func HoldInlineRuns(cleanup func(func())) {
	watch.late.Store(1 << 62)
	cleanup(func() { watch.late.Store(0) })
}
