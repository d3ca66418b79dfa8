/*
 * b2bua_media.c — prompts, recording and answering-machine detection for answered
 * calls: what the control plane asks (b2bua_media_ctl.c) and the route's options at
 * answer (record = DIR, amd = yes; in database mode the DID's or rule's columns), and the media events turned into the call's log
 * records (call.play, call.record, call.amd, call.beep) and handed to the events hook.
 * Runs on the signalling thread; nothing here touches the disk (a prompt arrives
 * decoded, a recording's file is written by the media engine's writer thread).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amd.h"
#include "b2bua_int.h"
#include "log.h"
#include "media_feat.h"

static const char *leg_name(int side)
{
	return side == MEDIA_SIDE_A ? "a" : "b";
}

int b2b_media_record(struct call *c, const char *path)
{
	int err;

	if (c->rec_path[0])
		return EBUSY;   /* one recording at a time: its call.record names its file */
	err = media_session_record(c->ms, path);

	if (!err)
		snprintf(c->rec_path, sizeof(c->rec_path), "%s", path);
	return err;
}

int b2b_media_amd(struct call *c, int side)
{
	return media_session_amd(c->ms, side ? MEDIA_SIDE_B : MEDIA_SIDE_A, NULL);
}

void b2bua_set_media_hook(struct b2bua *b, b2bua_media_hook *fn, void *arg)
{
	b->media_hook = fn;
	b->media_hook_arg = arg;
}

void b2b_media_on_answer(struct call *c)
{
	const struct route_cfg *rc = c->route ? route_get_cfg(c->route) : NULL;
	const struct route_target *t = c->targets && c->target < c->n_targets ?
				       &c->targets[c->target] : NULL;
	const char *dir = rc ? rc->record_dir : t && t->record_dir ? t->record_dir : "";
	bool amd = rc ? rc->amd : t && t->amd;
	char path[sizeof(c->rec_path)];
	int err;

	/* A file's [route], else (database mode) the DID's or rule's options. */
	if (!c->ms)
		return;
	if (dir[0]) {
		snprintf(path, sizeof(path), "%s/%s.wav", dir, c->id);
		err = b2b_media_record(c, path);
		if (err)
			call_log(LOG_ERROR, "call.record", c, NULL, "cannot record to %s: %s", path,
				 strerror(err));
	}
	if (amd) {
		err = b2b_media_amd(c, MEDIA_SIDE_B);
		if (err)
			call_log(LOG_ERROR, "call.amd", c, "b", "cannot start AMD: %s",
				 strerror(err));
	}
}

/* Writes the record and hands it to the hook. */
static void publish(struct call *c, const char *event, json_t *o)
{
	struct log_rec r;
	const char *k;
	json_t *v;

	if (!o)
		return;
	json_object_set_new(o, "call_id", json_string(c->id));
	if (log_begin(&r, LOG_INFO, event)) {
		if (c->api_rid[0])
			log_str(&r, "request_id", c->api_rid);
		json_object_foreach(o, k, v) {
			if (json_is_string(v))
				log_str(&r, k, json_string_value(v));
			else if (json_is_integer(v))
				log_int(&r, k, json_integer_value(v));
			else if (json_is_real(v))
				log_double(&r, k, json_real_value(v));
			else if (json_is_boolean(v))
				log_bool(&r, k, json_is_true(v));
		}
		log_end(&r);
	}
	if (c->b->media_hook)
		c->b->media_hook(event, c->id, o, c->b->media_hook_arg);
	/* In database mode the same fields become an event row (SSE, webhooks); the line
	 * above is its log, so the event record itself is logged at debug only. */
	if (c->b->hooks.event)
		b2b_event(c->b, LOG_DEBUG, event, c, NULL, NULL, json_incref(o));
	json_decref(o);
}

void b2b_media_event(struct call *c, const struct media_event *ev)
{
	const struct media_feat_ev *f = &ev->feat;
	const char *leg = leg_name(f->side);

	switch (f->kind) {
	case MEDIA_FEAT_PLAY_START:
	case MEDIA_FEAT_PLAY_END:
		publish(c, "call.play", json_pack("{s:s,s:s,s:b,s:I}", "leg", leg, "phase",
			f->kind == MEDIA_FEAT_PLAY_START ? "start" : "end", "mix", f->mix,
			"played_ms", (json_int_t)f->ms));
		break;
	case MEDIA_FEAT_RECORD_END:
		publish(c, "call.record", json_pack("{s:s,s:I,s:I,s:I,s:I}", "path", c->rec_path,
			"duration_ms", (json_int_t)f->ms, "frames", (json_int_t)f->frames,
			"late_packets", (json_int_t)f->late, "overflow_frames",
			(json_int_t)f->overflow));
		c->rec_path[0] = '\0';
		break;
	case MEDIA_FEAT_AMD:
		publish(c, "call.amd", json_pack("{s:s,s:s,s:s,s:f,s:I,s:I}", "leg", leg, "result",
			amd_class_name((enum amd_class)f->cls), "reason",
			amd_reason_name((enum amd_reason)f->reason), "confidence",
			(double)f->confidence, "decision_ms", (json_int_t)f->ms,
			"cost_ns_per_frame", (json_int_t)f->cost_ns));
		break;
	case MEDIA_FEAT_BEEP:
		publish(c, "call.beep", json_pack("{s:s,s:b,s:I,s:I,s:f}", "leg", leg, "beep", 1,
			"beep_end_ms", (json_int_t)f->ms, "beep_start_ms",
			(json_int_t)f->start_ms, "hz", (double)f->hz));
		break;
	case MEDIA_FEAT_BEEP_NONE:
		publish(c, "call.beep", json_pack("{s:s,s:b,s:I}", "leg", leg, "beep", 0,
			"gave_up_ms", (json_int_t)f->ms));
		break;
	default:
		break;
	}
}
