// Command gobaseline is a benchmark reference point, NOT Athens: a minimal Go net/http
// server answering GOPROXY reads (list, .info, .mod, .zip) from the same Athens disk
// layout (<root>/<module>/<version>/{go.mod,source.zip,<version>.info}) the way Athens'
// disk storage does (open the file, io.Copy it to the response). It has none of Athens'
// middleware, so it approximates an upper bound for Athens' throughput on this machine.
//
// usage: gobaseline -root DIR -listen 127.0.0.1:PORT
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
)

func unescape(s string) string {
	var b strings.Builder
	bang := false
	for _, r := range s {
		if bang {
			b.WriteRune(unicode.ToUpper(r))
			bang = false
		} else if r == '!' {
			bang = true
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func main() {
	root := flag.String("root", "", "storage root")
	listen := flag.String("listen", "127.0.0.1:3000", "listen address")
	flag.Parse()
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/")
		i := strings.LastIndex(p, "/@v/")
		if i < 0 {
			http.NotFound(w, r)
			return
		}
		mod, rest := unescape(p[:i]), p[i+4:]
		if rest == "list" {
			entries, err := os.ReadDir(filepath.Join(*root, mod))
			if err != nil {
				http.NotFound(w, r)
				return
			}
			var vs []string
			for _, e := range entries {
				if e.IsDir() && strings.HasPrefix(e.Name(), "v") {
					vs = append(vs, e.Name())
				}
			}
			sort.Strings(vs)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, strings.Join(vs, "\n")+"\n")
			return
		}
		ext := filepath.Ext(rest)
		ver := unescape(strings.TrimSuffix(rest, ext))
		var name, ctype string
		switch ext {
		case ".info":
			name, ctype = ver+".info", "application/json"
		case ".mod":
			name, ctype = "go.mod", "text/plain; charset=utf-8"
		case ".zip":
			name, ctype = "source.zip", "application/zip"
		default:
			http.NotFound(w, r)
			return
		}
		f, err := os.Open(filepath.Join(*root, mod, ver, name))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", ctype)
		io.Copy(w, f)
	})
	log.Fatal(http.ListenAndServe(*listen, nil))
}
