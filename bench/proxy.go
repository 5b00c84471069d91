package bench

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// proxy forwards TCP connections on loopback to a server and counts the round trips made through it: each time a
// client writes after the server last wrote to it (or for the first time) is one. A pipeline of requests written
// at once, or one request split over several writes, is one round trip, as it costs one wait for the network.
type proxy struct {
	listener net.Listener
	target   string
	trips    atomic.Int64

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func startProxy(target string) (*proxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{listener: l, target: target, conns: map[net.Conn]bool{}}
	p.wg.Go(p.accept)
	return p, nil
}

// addr is the address clients connect to instead of the server's.
func (p *proxy) addr() string { return p.listener.Addr().String() }

// roundTrips returns how many round trips were made so far.
func (p *proxy) roundTrips() int64 { return p.trips.Load() }

// close stops accepting and closes every connection.
func (p *proxy) close() {
	p.listener.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *proxy) track(c net.Conn, open bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if open {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *proxy) accept() {
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.track(client, true)
		p.track(server, true)
		p.wg.Go(func() { p.forward(client, server) })
	}
}

// forward copies both ways until either side closes, counting a round trip whenever the client writes after the
// server did.
func (p *proxy) forward(client, server net.Conn) {
	var clientSpoke atomic.Bool // whether the client wrote last
	var wg sync.WaitGroup
	wg.Go(func() {
		copyCounting(server, client, func() {
			if !clientSpoke.Swap(true) {
				p.trips.Add(1)
			}
		})
		server.Close()
	})
	copyCounting(client, server, func() { clientSpoke.Store(false) })
	client.Close()
	wg.Wait()
	p.track(client, false)
	p.track(server, false)
}

// copyCounting copies from src to dst, calling read before writing each chunk read.
func copyCounting(dst io.Writer, src io.Reader, read func()) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			read()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
