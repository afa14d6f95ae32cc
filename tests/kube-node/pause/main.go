// Command pause is the pod sandbox's process for the test node's containerd (its
// sandbox_image): no image registry is reachable here, so the image is built FROM scratch
// around this static program. Like upstream's pause it holds the pod's namespaces and exits on
// SIGTERM or SIGINT.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	<-signals
}
