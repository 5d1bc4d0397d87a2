# Outputs of the proxmox-vm module: identity, placement, MAC and IPv4 address of the VM.

locals {
  agent_ipv4 = [for ip in flatten(proxmox_virtual_environment_vm.this.ipv4_addresses) : ip
  if !startswith(ip, "127.")]
}

output "vm_id" {
  description = "VMID of the VM."
  value       = proxmox_virtual_environment_vm.this.vm_id
}

output "node_name" {
  description = "Node the VM runs on."
  value       = proxmox_virtual_environment_vm.this.node_name
}

output "name" {
  description = "VM name."
  value       = proxmox_virtual_environment_vm.this.name
}

output "mac_address" {
  description = "MAC address of the first NIC (net0), or null without NICs."
  value       = try(proxmox_virtual_environment_vm.this.network_device[0].mac_address, null)
}

output "mac_addresses" {
  description = "MAC addresses of all NICs, in order."
  value       = [for n in proxmox_virtual_environment_vm.this.network_device : n.mac_address]
}

output "ipv4_address" {
  description = "First IPv4 address: the first static one, else what the guest agent reports, else null."
  value = (length(local.static_ipv4) > 0 ? split("/", local.static_ipv4[0])[0]
  : try(local.agent_ipv4[0], null))
}
