// go-bench MODE [ARGS]: the same measurements in Go, the language whose
// channels chanos copies. Run with GOMAXPROCS=1 or 2.
//
// Modes (N: operations, default 100000; P: producers):
//
//	pingpong N      unbuffered and buffered(1) round trips
//	spawn N         go func + receive of its result
//	yield N         two goroutines calling runtime.Gosched
//	throughput P N  P producers, one consumer, buffered(1024)
//	sieve N         the concurrent prime sieve (Go's own example)
//	park N          N goroutines blocked on one channel
//	primes L C      the primes below L counted in chunks of C by one worker
//	                goroutine per GOMAXPROCS, as chanos's primes app does
//	                (median of 3 runs)
//	echo-server PORT, http-server PORT: servers (servers.go)
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"time"
)

func report(metric string, value float64, unit string) {
	fmt.Printf("bench %s %.1f %s\n", metric, value, unit)
}

func nsPerOp(start time.Time, ops int) float64 {
	return float64(time.Since(start).Nanoseconds()) / float64(ops)
}

func arg(i int, def int) int {
	if len(os.Args) <= i {
		return def
	}
	n, err := strconv.Atoi(os.Args[i])
	if err != nil || n < 0 || (n == 0 && os.Args[1] != "park") {
		fmt.Fprintln(os.Stderr, "not a positive number:", os.Args[i])
		os.Exit(64)
	}
	return n
}

func roundTrips(capacity, n int) float64 {
	ping, pong := make(chan int, capacity), make(chan int, capacity)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	start := time.Now()
	for i := 0; i < n; i++ {
		ping <- i
		if <-pong != i {
			panic("out of order")
		}
	}
	ns := nsPerOp(start, n)
	close(ping)
	return ns
}

func throughput(producers, n int) {
	per := n / producers
	ch := make(chan int, 1024)
	start := time.Now()
	done := make(chan bool)
	for p := 0; p < producers; p++ {
		go func() {
			for i := 0; i < per; i++ {
				ch <- i
			}
			done <- true
		}()
	}
	go func() {
		for p := 0; p < producers; p++ {
			<-done
		}
		close(ch)
	}()
	received := 0
	for range ch {
		received++
	}
	report(fmt.Sprintf("throughput_%dp", producers), float64(received)/time.Since(start).Seconds(), "msg/s")
}

func generate(ch chan<- int) {
	for i := 2; ; i++ {
		ch <- i
	}
}

func filter(in <-chan int, out chan<- int, prime int) {
	for {
		i := <-in
		if i%prime != 0 {
			out <- i
		}
	}
}

func sieve(count int) {
	start := time.Now()
	ch := make(chan int)
	go generate(ch)
	last := 0
	for i := 0; i < count; i++ {
		prime := <-ch
		last = prime
		next := make(chan int)
		go filter(ch, next, prime)
		ch = next
	}
	fmt.Println(last)
	report(fmt.Sprintf("sieve_%d", count), float64(time.Since(start).Microseconds())/1000, "ms")
}

func isPrime(n uint32) bool {
	if n < 4 {
		return n >= 2
	}
	if n%2 == 0 {
		return false
	}
	for d := uint32(3); d*d <= n; d += 2 {
		if n%d == 0 {
			return false
		}
	}
	return true
}

// countPrimes: the same worker pool as chanos's primes app, one worker per
// GOMAXPROCS taking chunks from one channel; returns the count and its ms.
func countPrimes(limit, chunk uint32) (uint64, float64) {
	workers := runtime.GOMAXPROCS(0)
	start := time.Now()
	chunks, counts := make(chan [2]uint32, 2*workers), make(chan uint32, 2*workers)
	for w := 0; w < workers; w++ {
		go func() {
			for c := range chunks {
				count := uint32(0)
				for n := c[0]; n < c[1]; n++ {
					if isPrime(n) {
						count++
					}
				}
				counts <- count
			}
		}()
	}
	go func() {
		for next := uint32(0); next < limit; {
			end := next + chunk
			if end > limit || end < next {
				end = limit
			}
			chunks <- [2]uint32{next, end}
			next = end
		}
		close(chunks)
	}()
	total, want := uint64(0), (limit+chunk-1)/chunk
	for i := uint32(0); i < want; i++ {
		total += uint64(<-counts)
	}
	return total, float64(time.Since(start).Microseconds()) / 1000
}

func primes(limit, chunk uint32) {
	var times []float64
	var first uint64
	for round := 0; round < 3; round++ {
		count, ms := countPrimes(limit, chunk)
		if round > 0 && count != first {
			panic("counts differ")
		}
		first = count
		times = append(times, ms)
	}
	sort.Float64s(times)
	procs := runtime.GOMAXPROCS(0)
	fmt.Printf("primes below %d: %d\n", limit, first)
	metric := "primes_1_core"
	if procs > 1 {
		metric = fmt.Sprintf("primes_%d_cores", procs)
	}
	report(metric, times[1], "ms")
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go-bench MODE [N]")
		os.Exit(64)
	}
	switch os.Args[1] {
	case "echo-server":
		echoServer(listenPort(os.Args))
	case "http-server":
		httpServer(listenPort(os.Args))
	}
	n := arg(2, 100000)
	switch os.Args[1] {
	case "pingpong":
		report("pingpong_rendezvous_rt", roundTrips(0, n), "ns")
		report("pingpong_cap1_rt", roundTrips(1, n), "ns")
	case "spawn":
		start := time.Now()
		for i := 0; i < n; i++ {
			result := make(chan int, 1)
			go func(i int) { result <- i }(i)
			if <-result != i {
				panic("wrong result")
			}
		}
		report("spawn_join", nsPerOp(start, n), "ns")
	case "yield":
		start := time.Now()
		done := make(chan bool)
		go func() {
			for i := 0; i < n; i++ {
				runtime.Gosched()
			}
			done <- true
		}()
		for i := 0; i < n; i++ {
			runtime.Gosched()
		}
		<-done
		report("yield", nsPerOp(start, 2*n), "ns")
	case "throughput":
		throughput(n, arg(3, 1000000))
	case "sieve":
		sieve(n)
	case "primes":
		primes(uint32(n), uint32(arg(3, 10000)))
	case "park":
		block := make(chan bool)
		done := make(chan bool)
		for i := 0; i < n; i++ {
			go func() { <-block; done <- true }()
		}
		time.Sleep(50 * time.Millisecond)
		fmt.Printf("bench parked_tasks %d tasks\n", n)
		close(block)
		for i := 0; i < n; i++ {
			<-done
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(64)
	}
}
