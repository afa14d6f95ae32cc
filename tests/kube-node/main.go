// Command kube-node is pkgrun's test node: the kubelet, kube-controller-manager and
// kube-scheduler of the pinned k8s.io/kubernetes release in one multi-call binary, so the three
// share one link (the largest part of a build) and one file under .tools. The component is the
// first argument or, when invoked through a link named after it, the program name:
//
//	kube-node kubelet --config=...
//	kube-node kube-controller-manager --kubeconfig=...
//	kube-node kube-scheduler --kubeconfig=...
//
// The code run is upstream's own command (app.New...Command), with upstream's flags; nothing
// is patched. scripts/tools/install-kube-node.sh builds it; pkgrun_e2e::KubeNode starts it.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	_ "time/tzdata" // kube-controller-manager's CronJob time zones, as upstream's main

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format, as upstream's mains
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client metrics, as upstream's mains
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric, as upstream's mains
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
	kubeletpkg "k8s.io/kubernetes/pkg/kubelet"
)

// containerLogsDirEnv moves the kubelet's /var/log/containers symlinks (a package variable
// upstream, with no flag) so that a test node writes nothing outside its own directory.
const containerLogsDirEnv = "PKGRUN_KUBELET_CONTAINER_LOGS_DIR"

var components = map[string]func() *cobra.Command{
	"kubelet":                 func() *cobra.Command { return kubelet.NewKubeletCommand(context.Background()) },
	"kube-controller-manager": controllermanager.NewControllerManagerCommand,
	"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
}

func main() {
	name := filepath.Base(os.Args[0])
	if _, ok := components[name]; !ok && len(os.Args) > 1 {
		name = os.Args[1]
		os.Args = append(os.Args[:1], os.Args[2:]...)
	}
	newCommand, ok := components[name]
	if !ok {
		fmt.Fprintln(os.Stderr, "usage: kube-node kubelet|kube-controller-manager|kube-scheduler [flags of that component]")
		os.Exit(2)
	}
	if dir := os.Getenv(containerLogsDirEnv); dir != "" && name == "kubelet" {
		kubeletpkg.ContainerLogsDir = dir
	}
	os.Exit(cli.Run(newCommand()))
}
