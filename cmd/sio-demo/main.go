// Command sio-demo will be the multi-node demo server and its multi-session
// client. Until its own issue lands it only says so.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "sio-demo: placeholder; the demo server and client come with their own issue")
}
