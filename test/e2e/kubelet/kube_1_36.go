//go:build kube136

// The kubelet 1.36 API: fewer contextual loggers, Admit(attrs) without a context, cadvisor's
// info/v1 types. Its twin for 1.37 is kube_1_37.go.
package main

import (
	"context"
	_ "unsafe" // for go:linkname

	cadvisorapi "github.com/google/cadvisor/info/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	podresourcesv1 "k8s.io/kubelet/pkg/apis/podresources/v1"
	"k8s.io/kubernetes/pkg/kubelet/apis/podresources"
	"k8s.io/kubernetes/pkg/kubelet/cm/devicemanager"
	"k8s.io/kubernetes/pkg/kubelet/cm/topologymanager"
	"k8s.io/kubernetes/pkg/kubelet/lifecycle"
)

// newManagerImpl: see kube_1_37.go (same unexported constructor, same signature in 1.36).
//
//go:linkname newManagerImpl k8s.io/kubernetes/pkg/kubelet/cm/devicemanager.newManagerImpl
func newManagerImpl(logger klog.Logger, socketPath string, topology []cadvisorapi.Node, store topologymanager.Store) (*devicemanager.ManagerImpl, error)

// The cadvisor machine types of this minor (fakeMachine in node.go builds a topology from them).
type (
	machineNode = cadvisorapi.Node
	machineCore = cadvisorapi.Core
)

func newKubeletManagers(logger klog.Logger, socket, policy string, numa int) (*devicemanager.ManagerImpl, topologymanager.Manager, error) {
	machine := fakeMachine(numa)
	tm, err := topologymanager.NewManager(machine, policy, topologymanager.ContainerTopologyScope, nil)
	if err != nil {
		return nil, nil, err
	}
	dm, err := newManagerImpl(logger, socket, machine, tm)
	if err != nil {
		return nil, nil, err
	}
	tm.AddHintProvider(logger, dm)
	return dm, tm, nil
}

func admitPod(_ context.Context, tm topologymanager.Manager, pod *v1.Pod) lifecycle.PodAdmitResult {
	return tm.Admit(&lifecycle.PodAdmitAttributes{Pod: pod, Operation: lifecycle.AddOperation})
}

func containerAffinity(_ klog.Logger, tm topologymanager.Manager, podUID, name string) topologymanager.TopologyHint {
	return tm.GetAffinity(podUID, name)
}

func addContainer(_ klog.Logger, tm topologymanager.Manager, pod *v1.Pod, c *v1.Container, id string) {
	tm.AddContainer(pod, c, id)
}

func removeContainer(_ klog.Logger, tm topologymanager.Manager, id string) error {
	return tm.RemoveContainer(id)
}

func nodeCapacity(_ klog.Logger, dm *devicemanager.ManagerImpl) (v1.ResourceList, v1.ResourceList) {
	capacity, allocatable, _ := dm.GetCapacity()
	return capacity, allocatable
}

func allocatableDevices(_ klog.Logger, dm *devicemanager.ManagerImpl) devicemanager.ResourceDeviceInstances {
	return dm.GetAllocatableDevices()
}

func updateAllocatedDevices(_ klog.Logger, dm *devicemanager.ManagerImpl) {
	dm.UpdateAllocatedDevices()
}

type devicesProvider struct{ *podResourcesFeed }

func (p devicesProvider) UpdateAllocatedDevices() { p.updateAllocated() }
func (p devicesProvider) GetDevices(podUID, containerName string) []*podresourcesv1.ContainerDevices {
	return p.devices(podUID, containerName)
}
func (p devicesProvider) GetAllocatableDevices() []*podresourcesv1.ContainerDevices {
	return p.allocatable()
}

// The node has no CPU manager, memory manager or DRA: their providers report nothing.
type noOtherResources struct{}

func (noOtherResources) GetCPUs(string, string) []int64 { return nil }
func (noOtherResources) GetAllocatableCPUs() []int64    { return nil }
func (noOtherResources) GetMemory(string, string) []*podresourcesv1.ContainerMemory {
	return nil
}
func (noOtherResources) GetAllocatableMemory() []*podresourcesv1.ContainerMemory { return nil }
func (noOtherResources) GetDynamicResources(*v1.Pod, *v1.Container) []*podresourcesv1.DynamicResource {
	return nil
}

func newPodResourcesServer(ctx context.Context, feed *podResourcesFeed) podresourcesv1.PodResourcesListerServer {
	return podresources.NewV1PodResourcesServer(ctx, podresources.PodResourcesProviders{
		Pods: feed, Devices: devicesProvider{feed}, Cpus: noOtherResources{}, Memory: noOtherResources{}, DynamicResources: noOtherResources{},
	})
}
