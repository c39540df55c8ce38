package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches the subcommand in args and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || len(args[0]) > 0 && args[0][0] == '-' {
		return demoMain(args, stdout, stderr)
	}
	switch args[0] {
	case "client":
		return clientMain(args[1:], stdout, stderr)
	case "serve":
		return serveMain(args[1:], stdout, stderr)
	case "bench":
		return benchMain(args[1:], stdout, stderr)
	case "help":
		demoUsage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "sio-demo: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
}

func usage(w io.Writer) { demoUsage(w) }
