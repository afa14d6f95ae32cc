package kubeapiserver

// The FAKE kubelet: the one part of a cluster that is not real here. A pod's log is not
// stored by the API server; `GET pods/<name>/log` is proxied by kube-apiserver to the kubelet
// of the pod's node (https://<node address>:<kubelet port>/containerLogs/<ns>/<pod>/<container>).
// No kubelet can run on the project's machines (no container runtime), so this serves that
// one endpoint from files a test writes, and registers a Node pointing at it. Everything
// else — the Pod objects, the log subresource, its authorization and the proxying — is the
// real API server's.
//
// Logs live at <PKGRUN_KUBE_APISERVER_DIR>/pod-logs/<namespace>/<pod>/<container>.log;
// a missing file is a 404, as a kubelet answers for an unknown container.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
)

// FakeKubeletNode is the Node whose pods' logs the fake kubelet serves.
const FakeKubeletNode = "pkgrun-fake-kubelet"

func startFakeKubelet(logDir string, config *restclient.Config) (stop func(), err error) {
	server := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/containerLogs/"), "/")
		if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/containerLogs/") || len(parts) != 3 {
			http.Error(w, "the fake kubelet serves only GET /containerLogs/<ns>/<pod>/<container>", http.StatusNotFound)
			return
		}
		for _, part := range parts {
			if part == "" || part == "." || part == ".." {
				http.Error(w, "bad path", http.StatusBadRequest)
				return
			}
		}
		file := filepath.Join(logDir, parts[0], parts[1], parts[2]+".log")
		log, err := os.ReadFile(file)
		if err != nil {
			http.Error(w, fmt.Sprintf("container %q in pod %s/%s has no log", parts[2], parts[0], parts[1]), http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write(log)
	}))
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	server.Listener = listener
	server.StartTLS()

	port := server.Listener.Addr().(*net.TCPAddr).Port
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		server.Close()
		return nil, err
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   FakeKubeletNode,
			Labels: map[string]string{"pkgrun.test/fake-kubelet": "true"},
		},
		Status: corev1.NodeStatus{
			Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(port)}},
		},
	}
	if _, err := client.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{}); err != nil {
		server.Close()
		return nil, fmt.Errorf("registering node %s: %w", FakeKubeletNode, err)
	}
	return server.Close, nil
}
