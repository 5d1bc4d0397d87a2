# Inputs of the proxmox-lxc module: where the container lives, its size, root disk, NICs and OS template.

variable "node_name" {
  description = "Proxmox VE node the container is created on."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$", var.node_name))
    error_message = "node_name must be a Proxmox node name (letters, digits and dashes)."
  }
}

variable "vm_id" {
  description = "VMID of the container (100-999999999). Chosen by the caller so that a retry never creates a second one."
  type        = number
  validation {
    condition     = var.vm_id >= 100 && var.vm_id <= 999999999 && floor(var.vm_id) == var.vm_id
    error_message = "vm_id must be a whole number between 100 and 999999999."
  }
}

variable "hostname" {
  description = "Host name of the container (a DNS label)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.hostname))
    error_message = "hostname must be a DNS label: lower-case letters, digits and dashes, at most 63 characters."
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

variable "template_file_id" {
  description = "OS template volume, e.g. local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_.-]*:vztmpl/.+", var.template_file_id))
    error_message = "template_file_id must be a vztmpl volume id like local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst."
  }
}

variable "os_type" {
  description = "OS type Proxmox configures the container for (debian, ubuntu, alpine, ..., unmanaged)."
  type        = string
  default     = "unmanaged"
  validation {
    condition = contains(["alpine", "archlinux", "centos", "debian", "devuan", "fedora", "gentoo", "nixos",
    "opensuse", "ubuntu", "unmanaged"], var.os_type)
    error_message = "os_type must be one of alpine, archlinux, centos, debian, devuan, fedora, gentoo, nixos, opensuse, ubuntu, unmanaged."
  }
}

variable "cores" {
  description = "Number of CPU cores."
  type        = number
  default     = 1
  validation {
    condition     = var.cores >= 1 && var.cores <= 8192 && floor(var.cores) == var.cores
    error_message = "cores must be a whole number of at least 1."
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

variable "swap_mb" {
  description = "Swap in MiB."
  type        = number
  default     = 0
  validation {
    condition     = var.swap_mb >= 0 && floor(var.swap_mb) == var.swap_mb
    error_message = "swap_mb must be a whole number of at least 0."
  }
}

variable "disk" {
  description = "Root file system."
  type = object({
    size_gb = number
    storage = optional(string, "local-lvm")
  })
  default = { size_gb = 4 }
  validation {
    condition     = var.disk.size_gb >= 1 && floor(var.disk.size_gb) == var.disk.size_gb
    error_message = "disk.size_gb must be a whole number of at least 1."
  }
  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_.-]*[A-Za-z0-9]$", var.disk.storage))
    error_message = "disk.storage must be a Proxmox storage id such as local-lvm (letters, digits, _ . -; no spaces)."
  }
}

variable "networks" {
  description = "NICs eth0, eth1, ... ipv4 is \"dhcp\" or an address in CIDR notation; mac_address is generated when null."
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

variable "ssh_keys" {
  description = "SSH public keys installed for root (surrounding white space, such as the newline file() keeps, is trimmed)."
  type        = list(string)
  default     = []
}

variable "unprivileged" {
  description = "Run the container unprivileged."
  type        = bool
  default     = true
}

variable "nesting" {
  description = "Allow nested containers (needed by systemd in recent distributions)."
  type        = bool
  default     = false
}

variable "started" {
  description = <<-EOT
    Power state right after creation. Afterwards power is not Terraform's: it is changed through the
    Proxmox API and ignored by this module, so starting or stopping the container never produces a diff.
  EOT
  type        = bool
  default     = true
}

variable "start_on_boot" {
  description = "Start the container when its node boots."
  type        = bool
  default     = true
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
