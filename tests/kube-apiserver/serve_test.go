// Package kubeapiserver is pkgrun's test Kubernetes API server: a real kube-apiserver (the
// k8s.io/kubernetes code, not a fake) with an embedded etcd, both on loopback, for the suites
// that prove pkgrun's Kubernetes parts. There is no Docker engine or cluster on the project's
// machines and kube-apiserver cannot be `go install`ed (k8s.io/kubernetes uses replace
// directives), so this module pins the release and is built with `go test -c` into one binary
// (scripts/tools/install-kube-apiserver.sh). It is a test binary because the upstream harness,
// cmd/kube-apiserver/app/testing.StartTestServer, takes a testing.TB.
//
// Run it as
//
//	kube-apiserver.test -test.run '^TestServe$' -test.timeout 0
//
// with PKGRUN_KUBE_APISERVER_DIR set to an existing directory. It writes
// <dir>/admin.kubeconfig (the server's privileged loopback identity, group system:masters),
// registers the Node of the fake kubelet (fake_kubelet_test.go: pod logs from
// <dir>/pod-logs), then prints one line `READY <https url>` on stdout, and serves until SIGTERM/SIGINT or until
// its standard input is closed, so a test harness that dies cannot leave it running.
//
// Authorization is RBAC (StartTestServer's own default is AlwaysAllow, which would make every
// permission test pass vacuously). Service-account tokens are minted through the TokenRequest
// API with the admin identity; the signing key and issuer are StartTestServer's.
// No kubelet, scheduler or controller-manager runs in this binary: nothing schedules or starts
// Pods, and Job/Deployment/Pod status changes only when a client writes the status subresource —
// unless the test node (tests/kube-node, pkgrun_e2e::KubeNode) is started against it.
package kubeapiserver

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"k8s.io/apiserver/pkg/storage/etcd3/testserver"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	kubeapiservertesting "k8s.io/kubernetes/cmd/kube-apiserver/app/testing"
)

// DirEnv names the directory the server writes its kubeconfig into.
const DirEnv = "PKGRUN_KUBE_APISERVER_DIR"

// RemoveDirEnv, set to 1, makes the server remove that directory when it stops: a harness
// that lives as long as its test process has no later moment to clean up.
const RemoveDirEnv = "PKGRUN_KUBE_APISERVER_REMOVE_DIR"

func TestServe(t *testing.T) {
	dir := os.Getenv(DirEnv)
	if dir == "" {
		t.Skipf("%s is not set; this test binary is a server, started by pkgrun's test harness", DirEnv)
	}

	if err := useInstalledFixtures(); err != nil {
		t.Fatal(err)
	}

	etcd := testserver.RunEtcd(t, nil)
	storage := storagebackend.NewDefaultConfig(path.Join("pkgrun", "registry"), nil)
	storage.Transport.ServerList = etcd.Endpoints()

	options := kubeapiservertesting.NewDefaultTestServerOptions()
	// The metrics invariant check at teardown is for Kubernetes' own tests; here it would only
	// slow the shutdown down.
	options.DisableInvariantChecks = true
	flags := []string{
		"--authorization-mode=RBAC",
		// Pod logs are fetched from a node by address: the test node (tests/kube-node) has no
		// DNS name, and the fake kubelet only an InternalIP.
		"--kubelet-preferred-address-types=InternalIP,Hostname",
	}
	server, err := kubeapiservertesting.StartTestServer(t, options, flags, storage)
	if err != nil {
		t.Fatalf("starting kube-apiserver: %v", err)
	}
	defer server.TearDownFn()

	kubeconfig := filepath.Join(dir, "admin.kubeconfig")
	if err := writeKubeconfig(kubeconfig, server.ClientConfig); err != nil {
		t.Fatalf("writing %s: %v", kubeconfig, err)
	}
	stopKubelet, err := startFakeKubelet(filepath.Join(dir, "pod-logs"), server.ClientConfig)
	if err != nil {
		t.Fatalf("starting the fake kubelet: %v", err)
	}
	defer stopKubelet()
	if os.Getenv(RemoveDirEnv) == "1" {
		// Registered after start-up, so a failed start keeps its log for the owner to show.
		// The owner may be gone by then; only the kubeconfig and pod logs live here.
		defer os.RemoveAll(dir)
	}
	fmt.Printf("READY %s\n", server.ClientConfig.Host)

	waitForStop()
}

// useInstalledFixtures points StartTestServer at the serving-certificate fixtures that the
// install script copied next to this binary. StartTestServer finds its testdata directory from
// its own source path, which -trimpath reduces to `k8s.io/kubernetes@<version>/...`; for such
// builds it joins TEST_SRCDIR and TEST_WORKSPACE in front (the hook Kubernetes has for Bazel).
// Without this the binary would depend on the Go module cache it was built from.
func useInstalledFixtures() error {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		return nil // not a -trimpath build: the source tree is where the path says
	}
	if os.Getenv("TEST_SRCDIR") != "" && os.Getenv("TEST_WORKSPACE") != "" {
		return nil // StartTestServer uses them as they are
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("locating this binary for its fixtures: %w", err)
	}
	os.Setenv("TEST_SRCDIR", filepath.Join(filepath.Dir(exe), "src"))
	os.Setenv("TEST_WORKSPACE", ".")
	return nil
}

// waitForStop returns on SIGTERM or SIGINT, or when standard input reaches end of file (the
// parent that started this server went away).
func waitForStop() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	stdinClosed := make(chan struct{})
	go func() {
		reader := bufio.NewReader(os.Stdin)
		for {
			if _, err := reader.ReadByte(); err != nil {
				close(stdinClosed)
				return
			}
		}
	}()
	select {
	case <-ctx.Done():
	case <-stdinClosed:
	}
}

// writeKubeconfig writes the loopback client identity as a kubeconfig file. The loopback
// certificate is issued for the name `apiserver-loopback-client`, hence tls-server-name.
func writeKubeconfig(file string, config *restclient.Config) error {
	kubeconfig := clientcmdapi.NewConfig()
	kubeconfig.Clusters["pkgrun-test"] = &clientcmdapi.Cluster{
		Server:                   config.Host,
		CertificateAuthorityData: config.TLSClientConfig.CAData,
		TLSServerName:            config.TLSClientConfig.ServerName,
	}
	kubeconfig.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: config.BearerToken}
	kubeconfig.Contexts["admin@pkgrun-test"] = &clientcmdapi.Context{
		Cluster:   "pkgrun-test",
		AuthInfo:  "admin",
		Namespace: "default",
	}
	kubeconfig.CurrentContext = "admin@pkgrun-test"
	return clientcmd.WriteToFile(*kubeconfig, file)
}
