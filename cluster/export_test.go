package cluster

// SetMaxHandlers changes the bound on handler goroutines for a test and
// returns the function that restores it.
func SetMaxHandlers(n int) (restore func()) {
	old := maxHandlers
	maxHandlers = n
	return func() { maxHandlers = old }
}
