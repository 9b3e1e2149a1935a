"""Pod networking: the bridge plugin (veth pairs, host-local IPAM, nftables guard, userspace port proxies)."""
