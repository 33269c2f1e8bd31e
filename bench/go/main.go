// go-floor: the smallest honest Go device plugin, the yardstick `npm run bench` measures our plugins against.
//
// One resource; each device node in -nodes is advertised as -shared-count IDs (<name>-0 … <name>-<N-1>),
// Healthy while the node exists and Unhealthy once it is gone; Allocate returns the node. It does what a good
// Go plugin does and nothing more:
//
//   - serves DevicePlugin (v1beta1, from k8s.io/kubelet) with grpc-go on <device-plugin-dir>/<socket>;
//
//   - registers with the kubelet, and re-registers when kubelet.sock is re-created (inotify via fsnotify on
//     the device-plugin directory, as the kubelet's documentation asks), serving on a fresh socket;
//
//   - watches the nodes' directories with fsnotify and sends a new ListAndWatch list on every change.
//
//     go-floor -device-plugin-dir DIR -resource NAME -nodes /dev/kvm[,/dev/x] [-shared-count N]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

type plugin struct {
	pluginapi.UnimplementedDevicePluginServer
	resource string
	nodes    []string
	shares   int

	mu      sync.Mutex
	devices []*pluginapi.Device
	changed chan struct{} // closed and replaced on every change of devices
}

func (p *plugin) scan() {
	var devices []*pluginapi.Device
	for _, node := range p.nodes {
		health := pluginapi.Healthy
		if _, err := os.Stat(node); err != nil {
			health = pluginapi.Unhealthy
		}
		for i := 0; i < p.shares; i++ {
			devices = append(devices, &pluginapi.Device{ID: fmt.Sprintf("%s-%d", filepath.Base(node), i), Health: health})
		}
	}
	p.mu.Lock()
	p.devices = devices
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

func (p *plugin) GetDevicePluginOptions(context.Context, *pluginapi.Empty) (*pluginapi.DevicePluginOptions, error) {
	return &pluginapi.DevicePluginOptions{}, nil
}

func (p *plugin) ListAndWatch(_ *pluginapi.Empty, stream pluginapi.DevicePlugin_ListAndWatchServer) error {
	for {
		p.mu.Lock()
		devices, changed := p.devices, p.changed
		p.mu.Unlock()
		if err := stream.Send(&pluginapi.ListAndWatchResponse{Devices: devices}); err != nil {
			return err
		}
		select {
		case <-changed:
		case <-stream.Context().Done():
			return nil
		}
	}
}

func (p *plugin) Allocate(_ context.Context, req *pluginapi.AllocateRequest) (*pluginapi.AllocateResponse, error) {
	resp := &pluginapi.AllocateResponse{}
	for _, c := range req.ContainerRequests {
		car := &pluginapi.ContainerAllocateResponse{}
		for _, id := range c.DevicesIds {
			name := id[:strings.LastIndexByte(id, '-')+1]
			for _, node := range p.nodes {
				if filepath.Base(node)+"-" == name {
					car.Devices = append(car.Devices, &pluginapi.DeviceSpec{ContainerPath: "/dev/" + filepath.Base(node), HostPath: node, Permissions: "rw"})
				}
			}
		}
		resp.ContainerResponses = append(resp.ContainerResponses, car)
	}
	return resp, nil
}

// serve starts a gRPC server on a fresh socket and registers it with the kubelet.
func (p *plugin) serve(dir, socket string) (*grpc.Server, error) {
	path := filepath.Join(dir, socket)
	_ = os.Remove(path)
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	server := grpc.NewServer()
	pluginapi.RegisterDevicePluginServer(server, p)
	go func() { _ = server.Serve(lis) }()

	conn, err := grpc.NewClient("unix://"+filepath.Join(dir, "kubelet.sock"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		server.Stop()
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = pluginapi.NewRegistrationClient(conn).Register(ctx, &pluginapi.RegisterRequest{
		Version: pluginapi.Version, Endpoint: socket, ResourceName: p.resource, Options: &pluginapi.DevicePluginOptions{},
	}, grpc.WaitForReady(true))
	if err != nil {
		server.Stop()
		return nil, err
	}
	return server, nil
}

func main() {
	dir := flag.String("device-plugin-dir", pluginapi.DevicePluginPath, "kubelet device-plugin directory")
	resource := flag.String("resource", "example.com/node", "extended resource name")
	nodes := flag.String("nodes", "", "comma-separated device node paths")
	shares := flag.Int("shared-count", 1, "IDs advertised per node")
	flag.Parse()
	if *nodes == "" {
		fmt.Fprintln(os.Stderr, "go-floor: -nodes is required")
		os.Exit(2)
	}
	p := &plugin{resource: *resource, nodes: strings.Split(*nodes, ","), shares: *shares, changed: make(chan struct{})}
	p.scan()
	socket := strings.NewReplacer("/", "-", ".", "-").Replace(*resource) + ".sock"

	watcher, err := fsnotify.NewWatcher()
	if err != nil {
		log.Fatal(err)
	}
	nodeDirs := map[string]bool{}
	for _, node := range p.nodes {
		nodeDirs[filepath.Dir(node)] = true
	}
	for d := range nodeDirs {
		if err := watcher.Add(d); err != nil {
			log.Fatal(err)
		}
	}
	if !nodeDirs[*dir] {
		if err := watcher.Add(*dir); err != nil {
			log.Fatal(err)
		}
	}

	server, err := p.serve(*dir, socket)
	if err != nil {
		log.Fatalf("register: %v", err)
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	kubeletSocket := filepath.Join(*dir, "kubelet.sock")
	for {
		select {
		case ev := <-watcher.Events:
			if ev.Name == kubeletSocket && ev.Has(fsnotify.Create) {
				server.Stop() // the kubelet restarted: it removed our socket; serve and register again
				if server, err = p.serve(*dir, socket); err != nil {
					log.Fatalf("re-register: %v", err)
				}
			} else if nodeDirs[filepath.Dir(ev.Name)] {
				p.scan()
			}
		case err := <-watcher.Errors:
			log.Printf("watch: %v", err)
		case <-signals:
			server.Stop()
			_ = os.Remove(filepath.Join(*dir, socket))
			return
		}
	}
}
