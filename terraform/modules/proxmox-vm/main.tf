# One Proxmox VE virtual machine. Power is set once at creation and then left to the Proxmox API
# (lifecycle.ignore_changes = [started]); a configuration change that needs a reboot restarts a running VM
# and leaves a stopped one stopped, so the power state is the same before and after an apply.

locals {
  # Proxmox keeps keys as given, but the provider reads them back trimmed: trim them here so that a key
  # read with file() (and its newline) does not show as a change on every plan.
  ssh_keys    = [for k in var.ssh_keys : trimspace(k)]
  static_ipv4 = [for n in var.networks : n.ipv4 if n.ipv4 != "dhcp"]
  cloud_init  = length(var.ssh_keys) > 0 || length(local.static_ipv4) > 0
}

resource "proxmox_virtual_environment_vm" "this" {
  node_name   = var.node_name
  vm_id       = var.vm_id
  name        = var.name
  description = var.description
  tags        = var.tags
  pool_id     = var.pool_id

  started         = var.started
  on_boot         = var.on_boot
  stop_on_destroy = true

  agent {
    enabled = var.agent_enabled
    timeout = var.agent_timeout
  }

  cpu {
    cores = var.cores
  }

  memory {
    dedicated = var.memory_mb
  }

  dynamic "clone" {
    for_each = var.clone_vm_id == null ? [] : [var.clone_vm_id]
    content {
      vm_id = clone.value
      full  = true
    }
  }

  dynamic "disk" {
    for_each = var.disks
    content {
      interface    = "scsi${disk.key}"
      datastore_id = disk.value.storage
      size         = disk.value.size_gb
    }
  }

  dynamic "network_device" {
    for_each = var.networks
    content {
      bridge      = network_device.value.bridge
      vlan_id     = network_device.value.vlan_id
      mac_address = network_device.value.mac_address
    }
  }

  dynamic "initialization" {
    for_each = local.cloud_init ? [1] : []
    content {
      datastore_id = var.cloud_init_storage
      dynamic "ip_config" {
        for_each = var.networks
        content {
          ipv4 {
            address = ip_config.value.ipv4
            gateway = ip_config.value.gateway
          }
        }
      }
      dynamic "user_account" {
        for_each = length(var.ssh_keys) > 0 ? [1] : []
        content {
          username = var.cloud_init_user
          keys     = local.ssh_keys
        }
      }
    }
  }

  lifecycle {
    ignore_changes = [started]
  }
}
