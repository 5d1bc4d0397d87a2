# Provider requirements of the proxmox-vm module. The provider itself is configured by the caller
# (endpoint and API token preferably from PROXMOX_VE_* environment variables).
terraform {
  required_version = ">= 1.6"
  required_providers {
    proxmox = {
      source  = "bpg/proxmox"
      version = ">= 0.106.0, < 1.0.0"
    }
  }
}
