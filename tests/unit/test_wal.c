/* test_wal.c: the WAL's one transaction encoder and iterator (lib/wal.c), on logs written record
 * by record: the rule that says which transactions are whole, shared by replay, verify,
 * recover and vz wal. */
#include "t.h"
#include "../../lib/internal.h"

static void op(vz_wal_writer *w, uint64_t txn, const char *id)
{
	vz_buf b = { 0 };
	float v[2] = { 1, 2 };
	CHECK_OK(vz_wal_encode_op(&b, id, strlen(id), v, 2, NULL, 0, false));
	CHECK_OK(vz_wal_encode(w, VZ_WAL_INSERT, txn, b.data, b.len));
	vz_buf_free(&b);
}

TEST(wal_transactions_whole_broken_stray_and_unfinished)
{
	vz_coll_id id;
	vz_id_new(&id);
	vz_wal_writer w = { 0 };
	CHECK_OK(vz_wal_reset("wal.log", &id, 0, 0, 1, &w));
	uint64_t a, b, c, d;
	/* seq 1-4: whole */
	CHECK_OK(vz_wal_encode_begin(&w, 2, &a));
	op(&w, a, "a1");
	op(&w, a, "a2");
	CHECK_OK(vz_wal_encode_commit(&w, a, 2));
	/* seq 5-6: begun, then another begin before its commit */
	CHECK_OK(vz_wal_encode_begin(&w, 1, &b));
	op(&w, b, "b1");
	/* seq 7-9: its commit counts 2 operations where 1 lies between */
	CHECK_OK(vz_wal_encode_begin(&w, 1, &c));
	op(&w, c, "c1");
	CHECK_OK(vz_wal_encode_commit(&w, c, 2));
	/* seq 10: a commit of nothing begun */
	CHECK_OK(vz_wal_encode_commit(&w, 99, 0));
	/* seq 11-12: unfinished at the end */
	CHECK_OK(vz_wal_encode_begin(&w, 1, &d));
	op(&w, d, "d1");
	CHECK_OK(vz_wal_append("wal.log", VZ_HEADER_SIZE, &w));
	vz_buf_free(&w.buf);
	CHECK_INT(a, 1);
	CHECK_INT(b, 5);
	CHECK_INT(c, 7);
	CHECK_INT(d, 11);

	vz_wal_log log;
	CHECK_OK(vz_wal_scan("wal.log", VZ_WAL_SCAN_STOP, &log));
	CHECK_INT(log.n, 12);
	size_t pos = 0;
	vz_wal_txn t;
	CHECK(vz_wal_next_txn(&log, 0, &pos, &t));
	CHECK_INT(t.txn, a);
	CHECK(t.complete);
	CHECK_INT(t.begin, 0);
	CHECK_INT(t.end, 3);
	CHECK(t.when > 1.7e9);
	CHECK(vz_wal_next_txn(&log, 0, &pos, &t));
	CHECK_INT(t.txn, b);
	CHECK(!t.complete);
	CHECK(t.ended_by_begin);
	CHECK_INT(t.end, 6);
	CHECK(vz_wal_next_txn(&log, 0, &pos, &t));
	CHECK_INT(t.txn, c);
	CHECK(!t.complete);
	CHECK(!t.ended_by_begin);
	CHECK_INT(t.end, 8);
	CHECK(vz_wal_next_txn(&log, 0, &pos, &t));
	CHECK_INT(t.txn, d);
	CHECK_INT(t.stray, 9); /* the stray commit */
	CHECK_INT(t.begin, 10);
	CHECK_INT(t.end, 12);
	CHECK(!t.complete);
	CHECK(!vz_wal_next_txn(&log, 0, &pos, &t));
	CHECK_INT(t.begin, 12);
	/* folded records are skipped: after seq 4 the first transaction is b */
	pos = 0;
	CHECK(vz_wal_next_txn(&log, 4, &pos, &t));
	CHECK_INT(t.txn, b);
	/* a begin folded with the records after it unfolded never starts a transaction */
	pos = 0;
	CHECK(vz_wal_next_txn(&log, 7, &pos, &t));
	CHECK_INT(t.stray, 7);
	CHECK_INT(t.txn, d);
	vz_wal_free(&log);
}
