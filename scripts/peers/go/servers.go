// The network peers of chanos's echo and http apps, for the benchmark:
//
//	go-bench echo-server PORT   TCP echo (RFC 862), a goroutine per connection
//	go-bench http-server PORT   net/http, keep-alive; GET /metrics answers
//	                            live counters in the same text format and of
//	                            about the size of chanos's http app's page
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

func listenPort(args []string) string {
	if len(args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: go-bench echo-server|http-server PORT")
		os.Exit(64)
	}
	if _, err := strconv.ParseUint(args[2], 10, 16); err != nil {
		fmt.Fprintln(os.Stderr, "not a port number:", args[2])
		os.Exit(64)
	}
	return ":" + args[2]
}

func echoServer(address string) {
	listener, err := net.Listen("tcp", address)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go echo:", err)
		os.Exit(1)
	}
	fmt.Println("go echo: listening on tcp", listener.Addr())
	for {
		conn, err := listener.Accept()
		if err != nil {
			continue
		}
		go func(c net.Conn) {
			defer c.Close()
			buffer := make([]byte, 16*1024)
			io.CopyBuffer(c, c, buffer)
		}(conn)
	}
}

func httpServer(address string) {
	started := time.Now()
	var open, accepted, requests atomic.Int64
	metrics := func(w http.ResponseWriter, r *http.Request) {
		uptime := time.Since(started).Seconds()
		goroutines := runtime.NumGoroutine()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		var body strings.Builder
		fmt.Fprintf(&body, "go_uptime_seconds %.3f\n", uptime)
		procs := runtime.GOMAXPROCS(0)
		for i := 0; i < 9; i++ {
			// Nine figures, each a total and per-processor lines, as
			// chanos's page has per core.
			fmt.Fprintf(&body, "go_goroutines_%d %d\n", i, goroutines)
			for p := 0; p < procs; p++ {
				fmt.Fprintf(&body, "go_proc_goroutines_%d{proc=\"%d\"} %d\n", i, p, goroutines)
			}
		}
		fmt.Fprintf(&body, "http_connections_open %d\nhttp_connections_total %d\nhttp_requests_total %d\n",
			open.Load(), accepted.Load(), requests.Add(1))
		io.WriteString(w, body.String())
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", metrics)
	server := &http.Server{
		Handler: mux,
		ConnState: func(c net.Conn, state http.ConnState) {
			switch state {
			case http.StateNew:
				open.Add(1)
				accepted.Add(1)
			case http.StateClosed, http.StateHijacked:
				open.Add(-1)
			}
		},
		IdleTimeout: 10 * time.Second,
	}
	listener, err := net.Listen("tcp", address)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go http:", err)
		os.Exit(1)
	}
	fmt.Println("go http: serving on", listener.Addr())
	fmt.Fprintln(os.Stderr, server.Serve(listener))
	os.Exit(1)
}
