# Inputs of the proxmox-vm module: where the VM lives, its size, disks, NICs and first-boot settings.

variable "node_name" {
  description = "Proxmox VE node the VM is created on."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$", var.node_name))
    error_message = "node_name must be a Proxmox node name (letters, digits and dashes)."
  }
}

variable "vm_id" {
  description = "VMID of the VM (100-999999999). Chosen by the caller so that a retry never creates a second VM."
  type        = number
  validation {
    condition     = var.vm_id >= 100 && var.vm_id <= 999999999 && floor(var.vm_id) == var.vm_id
    error_message = "vm_id must be a whole number between 100 and 999999999."
  }
}

variable "name" {
  description = "VM name (a DNS label)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.name))
    error_message = "name must be a DNS label: lower-case letters, digits and dashes, at most 63 characters."
  }
}

variable "description" {
  description = "Free text shown in the Proxmox VE UI."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Proxmox VE tags."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for t in var.tags : can(regex("^[a-z0-9_][a-z0-9_+.-]*$", t))])
    error_message = "tags may contain lower-case letters, digits and _ + . - only."
  }
}

variable "cores" {
  description = "Number of CPU cores (one socket)."
  type        = number
  default     = 1
  validation {
    condition     = var.cores >= 1 && var.cores <= 512 && floor(var.cores) == var.cores
    error_message = "cores must be a whole number between 1 and 512."
  }
}

variable "memory_mb" {
  description = "Memory in MiB."
  type        = number
  default     = 512
  validation {
    condition     = var.memory_mb >= 16 && floor(var.memory_mb) == var.memory_mb
    error_message = "memory_mb must be a whole number of at least 16."
  }
}

variable "disks" {
  description = "Disks, attached as scsi0, scsi1, ... in this order."
  type = list(object({
    size_gb = number
    storage = optional(string, "local-lvm")
  }))
  default = [{ size_gb = 8 }]
  validation {
    condition     = length(var.disks) >= 1 && length(var.disks) <= 30
    error_message = "disks must hold between 1 and 30 entries."
  }
  validation {
    condition     = alltrue([for d in var.disks : d.size_gb >= 1 && floor(d.size_gb) == d.size_gb])
    error_message = "every disk's size_gb must be a whole number of at least 1."
  }
  validation {
    condition     = alltrue([for d in var.disks : can(regex("^[A-Za-z][A-Za-z0-9_.-]*[A-Za-z0-9]$", d.storage))])
    error_message = "every disk's storage must be a Proxmox storage id such as local-lvm (letters, digits, _ . -; no spaces)."
  }
}

variable "networks" {
  description = "NICs (net0, net1, ...). ipv4 is \"dhcp\" or an address in CIDR notation; mac_address is generated when null."
  type = list(object({
    bridge      = optional(string, "vmbr0")
    vlan_id     = optional(number)
    mac_address = optional(string)
    ipv4        = optional(string, "dhcp")
    gateway     = optional(string)
  }))
  default = [{}]
  validation {
    condition     = alltrue([for n in var.networks : n.ipv4 == "dhcp" || can(cidrhost(n.ipv4, 0))])
    error_message = "every network's ipv4 must be \"dhcp\" or an IPv4 address in CIDR notation (10.0.0.5/24)."
  }
  validation {
    condition = alltrue([for n in var.networks :
    n.mac_address == null || can(regex("^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$", n.mac_address))])
    error_message = "every network's mac_address must look like BC:24:11:00:00:01."
  }
  validation {
    condition = alltrue([for n in var.networks :
    n.vlan_id == null || try(n.vlan_id >= 1 && n.vlan_id <= 4094 && floor(n.vlan_id) == n.vlan_id, false)])
    error_message = "every network's vlan_id must be a whole number between 1 and 4094 (or null for no VLAN tag)."
  }
  validation {
    condition     = alltrue([for n in var.networks : can(regex("^[A-Za-z][A-Za-z0-9_.-]{0,14}$", n.bridge))])
    error_message = "every network's bridge must be a Linux bridge name such as vmbr0 (letters, digits, _ . -)."
  }
}

variable "clone_vm_id" {
  description = "VMID of a template to clone (a cloud image prepared as a template); null creates empty disks."
  type        = number
  default     = null
  validation {
    condition = var.clone_vm_id == null || try(
    var.clone_vm_id >= 100 && var.clone_vm_id <= 999999999 && floor(var.clone_vm_id) == var.clone_vm_id, false)
    error_message = "clone_vm_id must be the VMID of a template, a whole number between 100 and 999999999 (or null)."
  }
}

variable "ssh_keys" {
  description = "SSH public keys for cloud-init (surrounding white space, such as the newline file() keeps, is trimmed); with static addresses, enables the cloud-init drive."
  type        = list(string)
  default     = []
}

variable "cloud_init_user" {
  description = "User cloud-init creates for ssh_keys."
  type        = string
  default     = "debian"
  validation {
    condition     = can(regex("^[a-z_][a-z0-9_.-]{0,31}$", var.cloud_init_user))
    error_message = "cloud_init_user must be a Linux user name: lower-case letters, digits, _ . - (no spaces), at most 32 characters."
  }
}

variable "cloud_init_storage" {
  description = "Storage of the cloud-init drive."
  type        = string
  default     = "local-lvm"
  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_.-]*[A-Za-z0-9]$", var.cloud_init_storage))
    error_message = "cloud_init_storage must be a Proxmox storage id such as local-lvm (letters, digits, _ . -; no spaces)."
  }
}

variable "started" {
  description = <<-EOT
    Power state right after creation. Afterwards power is not Terraform's: it is changed through the
    Proxmox API and ignored by this module, so starting or stopping the VM never produces a diff.
  EOT
  type        = bool
  default     = true
}

variable "on_boot" {
  description = "Start the VM when its node boots."
  type        = bool
  default     = true
}

variable "agent_enabled" {
  description = "Enable the QEMU guest agent (the VM's IP address is then read from the agent)."
  type        = bool
  default     = false
}

variable "agent_timeout" {
  description = "How long a read waits for the guest agent to report an address (a Go duration, e.g. 2m)."
  type        = string
  default     = "15m"

  validation {
    condition     = can(regex("^[0-9]+(ms|s|m|h)$", var.agent_timeout))
    error_message = "agent_timeout must be a duration such as 30s, 2m or 1h."
  }
}

variable "pool_id" {
  description = "Proxmox VE resource pool, or null."
  type        = string
  default     = null
  validation {
    condition     = var.pool_id == null || can(regex("^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+){0,2}$", var.pool_id))
    error_message = "pool_id must be a Proxmox pool id: letters, digits, _ and - (no spaces), or null."
  }
}
