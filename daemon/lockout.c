/*
 * daemon/lockout.c — consecutive 1:1 rejections per claimed member.  The
 * counts live in memory (a bounded table); the lock itself is persisted
 * with store_member_set_locked() so that it survives a restart and the
 * admin tool sees (and can lift) it.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "daemon/dmn.h"
#include "store/store.h"
#include "util/log.h"

#define LOCKOUT_SLOTS 4096

struct slot {
	char member[STORE_ID_MAX + 1];
	unsigned fails;
};

static pthread_mutex_t llock = PTHREAD_MUTEX_INITIALIZER;
static struct slot slots[LOCKOUT_SLOTS];

/* The member's slot, or a free one (or the one with fewest failures, so
 * a flood of distinct ids cannot evict an almost-locked member first). */
static struct slot *
find(const char *member, bool create)
{
	struct slot *free_slot = NULL, *least = &slots[0];
	size_t i;

	for (i = 0; i < LOCKOUT_SLOTS; i++) {
		if (slots[i].member[0] == '\0') {
			if (free_slot == NULL)
				free_slot = &slots[i];
			continue;
		}
		if (strcmp(slots[i].member, member) == 0)
			return &slots[i];
		if (slots[i].fails < least->fails)
			least = &slots[i];
	}
	if (!create)
		return NULL;
	if (free_slot == NULL)
		free_slot = least;
	snprintf(free_slot->member, sizeof(free_slot->member), "%s", member);
	free_slot->fails = 0;
	return free_slot;
}

bool
lockout_record(struct store *s, const struct dmn_gen *g, const char *member,
    bool accepted, int64_t now)
{
	struct dt_error err = { 0 };
	struct slot *sl;
	bool lock = false;

	pthread_mutex_lock(&llock);
	if (accepted) {
		if ((sl = find(member, false)) != NULL)
			memset(sl, 0, sizeof(*sl));
	} else {
		sl = find(member, true);
		if (++sl->fails >= g->lockout_failures) {
			memset(sl, 0, sizeof(*sl));
			lock = true;
		}
	}
	pthread_mutex_unlock(&llock);
	if (!lock)
		return false;
	/* audited once, by the store, as member.lock */
	if (store_member_set_locked(s, member, now + (int64_t)g->lockout_s,
	    &err) != 0) {
		log_warnx("lockout of member %s: %s", member, err.msg);
		return false;
	}
	log_info("member %s locked for %u s after %u consecutive rejections",
	    member, g->lockout_s, g->lockout_failures);
	return true;
}

void
lockout_shutdown(void)
{
	pthread_mutex_lock(&llock);
	memset(slots, 0, sizeof(slots));
	pthread_mutex_unlock(&llock);
}
