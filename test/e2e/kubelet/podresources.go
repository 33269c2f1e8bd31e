package main

import (
	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	podresourcesv1 "k8s.io/kubelet/pkg/apis/podresources/v1"
	"k8s.io/kubernetes/pkg/kubelet/cm/devicemanager"
)

// podResourcesFeed is what the kubelet's PodResources server reads: the node's pods and the current
// device manager generation (the version files wrap it in each minor's provider interfaces).
type podResourcesFeed struct{ node *node }

// The pods provider (the same interface in 1.36 and 1.37).
func (f *podResourcesFeed) GetActivePods() []*v1.Pod { return f.node.activePods() }
func (f *podResourcesFeed) GetPods() []*v1.Pod       { return f.node.activePods() }
func (f *podResourcesFeed) GetPodByName(namespace, name string) (*v1.Pod, bool) {
	return f.node.podByName(namespace, name)
}

// withManager runs fn on the current device manager; no generation running means no devices, as a
// kubelet that is not up answers nothing (the server is stopped with it anyway).
func (f *podResourcesFeed) withManager(fn func(dm *devicemanager.ManagerImpl, logger klog.Logger)) {
	f.node.mu.RLock()
	defer f.node.mu.RUnlock()
	if f.node.dm != nil {
		fn(f.node.dm, klog.LoggerWithValues(f.node.logger, "generation", f.node.gen))
	}
}

func (f *podResourcesFeed) updateAllocated() {
	f.withManager(func(dm *devicemanager.ManagerImpl, logger klog.Logger) { updateAllocatedDevices(logger, dm) })
}

func (f *podResourcesFeed) devices(podUID, containerName string) (out []*podresourcesv1.ContainerDevices) {
	f.withManager(func(dm *devicemanager.ManagerImpl, _ klog.Logger) {
		out = containerDevices(dm.GetDevices(podUID, containerName))
	})
	return out
}

func (f *podResourcesFeed) allocatable() (out []*podresourcesv1.ContainerDevices) {
	f.withManager(func(dm *devicemanager.ManagerImpl, logger klog.Logger) {
		out = containerDevices(allocatableDevices(logger, dm))
	})
	return out
}

// containerDevices is the kubelet's containerDevicesFromResourceDeviceInstances
// (pkg/kubelet/cm/container_manager_linux.go, unexported in package cm, which we do not link): one
// entry per device and NUMA node, devices without topology reported as they are.
func containerDevices(devs devicemanager.ResourceDeviceInstances) []*podresourcesv1.ContainerDevices {
	var out []*podresourcesv1.ContainerDevices
	for resourceName, byID := range devs {
		for id, dev := range byID {
			topo := dev.GetTopology()
			if topo == nil {
				out = append(out, &podresourcesv1.ContainerDevices{ResourceName: resourceName, DeviceIds: []string{id}})
				continue
			}
			for _, numa := range topo.GetNodes() {
				out = append(out, &podresourcesv1.ContainerDevices{
					ResourceName: resourceName,
					DeviceIds:    []string{id},
					Topology:     &podresourcesv1.TopologyInfo{Nodes: []*podresourcesv1.NUMANode{{ID: numa.GetID()}}},
				})
			}
		}
	}
	return out
}
