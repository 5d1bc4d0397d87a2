# One Proxmox VE LXC container. Power is set once at creation and then left to the Proxmox API
# (lifecycle.ignore_changes = [started]); a memory change reboots a running container, which comes back
# running, so the power state is the same before and after an apply.

locals {
  # Trimmed, so that a key read with file() (and its newline) is the same key on every plan.
  ssh_keys = [for k in var.ssh_keys : trimspace(k)]
}

resource "proxmox_virtual_environment_container" "this" {
  node_name     = var.node_name
  vm_id         = var.vm_id
  description   = var.description
  tags          = var.tags
  pool_id       = var.pool_id
  unprivileged  = var.unprivileged
  started       = var.started
  start_on_boot = var.start_on_boot

  operating_system {
    template_file_id = var.template_file_id
    type             = var.os_type
  }

  cpu {
    cores = var.cores
  }

  memory {
    dedicated = var.memory_mb
    swap      = var.swap_mb
  }

  disk {
    datastore_id = var.disk.storage
    size         = var.disk.size_gb
  }

  dynamic "features" {
    for_each = var.nesting ? [1] : []
    content {
      nesting = true
    }
  }

  initialization {
    hostname = var.hostname
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
        keys = local.ssh_keys
      }
    }
  }

  dynamic "network_interface" {
    for_each = var.networks
    content {
      name        = "eth${network_interface.key}"
      bridge      = network_interface.value.bridge
      vlan_id     = network_interface.value.vlan_id
      mac_address = network_interface.value.mac_address
    }
  }

  lifecycle {
    ignore_changes = [started]
  }
}
