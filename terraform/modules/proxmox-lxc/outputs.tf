# Outputs of the proxmox-lxc module: identity, placement, MAC and IPv4 address of the container.

locals {
  static_ipv4 = [for n in var.networks : n.ipv4 if n.ipv4 != "dhcp"]
  reported_ipv4 = [for name, ip in coalesce(proxmox_virtual_environment_container.this.ipv4, {}) : ip
  if name != "lo" && !startswith(ip, "127.")]
}

output "vm_id" {
  description = "VMID of the container."
  value       = proxmox_virtual_environment_container.this.vm_id
}

output "node_name" {
  description = "Node the container runs on."
  value       = proxmox_virtual_environment_container.this.node_name
}

output "hostname" {
  description = "Host name of the container."
  value       = var.hostname
}

output "mac_address" {
  description = "MAC address of eth0, or null without NICs."
  value       = try(proxmox_virtual_environment_container.this.network_interface[0].mac_address, null)
}

output "mac_addresses" {
  description = "MAC addresses of all NICs, in order."
  value       = [for n in proxmox_virtual_environment_container.this.network_interface : n.mac_address]
}

output "ipv4_address" {
  description = "First IPv4 address: the first static one, else the one Proxmox reports for a running container, else null."
  value = (length(local.static_ipv4) > 0 ? split("/", local.static_ipv4[0])[0]
  : try(local.reported_ipv4[0], null))
}
