/*
 * pcap_immediate.so: an LD_PRELOAD shim that turns libpcap's immediate mode on for every
 * capture handle a program opens.
 *
 * softflowd 1.1.0 opens its capture with a buffer timeout of 0. With libpcap 1.10 (TPACKET_V3
 * memory-mapped ring) such a handle is woken only when a ring block fills up, so the packets of
 * low-rate test traffic stay in the kernel and their flows are never exported. Immediate mode
 * delivers every packet as it arrives. Programs that use pcap_create()/pcap_activate() go
 * through the pcap_activate() hook; older ones calling pcap_open_live() are rebuilt on top of
 * pcap_create() so that they take the same path.
 *
 * The test compiles it into a temporary folder:
 *   gcc -O2 -shared -fPIC -o pcap_immediate.so pcap_immediate.c -ldl -lpcap
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pcap/pcap.h>
#include <stdio.h>

int pcap_activate(pcap_t *p)
{
	static int (*next_activate)(pcap_t *);

	if (next_activate == NULL)
		next_activate = (int (*)(pcap_t *))dlsym(RTLD_NEXT, "pcap_activate");
	if (next_activate == NULL)
		return PCAP_ERROR;
	/* Must precede activation; the return value only says whether p is already active. */
	(void)pcap_set_immediate_mode(p, 1);
	return next_activate(p);
}

pcap_t *pcap_open_live(const char *device, int snaplen, int promisc, int to_ms, char *errbuf)
{
	pcap_t *p = pcap_create(device, errbuf);

	if (p == NULL)
		return NULL;
	pcap_set_snaplen(p, snaplen);
	pcap_set_promisc(p, promisc);
	pcap_set_timeout(p, to_ms);
	if (pcap_activate(p) < 0) { /* our hook above */
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: %s", device ? device : "(any)", pcap_geterr(p));
		pcap_close(p);
		return NULL;
	}
	return p;
}
