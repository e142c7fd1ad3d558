/* MinAtar-style games (tools/envs/minatar.c): the rules of each game checked on positions
 * set up by hand, with the expected cells worked out from the rules in docs/minatar.md;
 * determinism per seed; sticky-action frequencies; input checks; random-policy sanity. */
#include "testutil.h"

#include "minatar.h"
#include "minatar_state.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t obs[DR3MT_MAX_CHANNELS * DR3MT_CELLS];

static int cell(int c, int x, int y) { return obs[c * DR3MT_CELLS + y * DR3MT_COLS + x]; }
static int channel_sum(int c) {
    int n = 0;
    for (int i = 0; i < DR3MT_CELLS; i++) n += obs[c * DR3MT_CELLS + i];
    return n;
}

/* A game without sticky actions, reset. */
static dr3mt *start(const char *game, uint64_t seed, int ramping) {
    dr3mt_options o = dr3mt_default_options();
    o.sticky_action_prob = 0.0;
    o.difficulty_ramping = ramping;
    dr3mt *e = NULL;
    assert_int_equal(dr3mt_create(&e, game, seed, &o), DR3_OK);
    assert_int_equal(dr3mt_reset(e, obs), DR3_OK);
    return e;
}

static void step(dr3mt *e, int action, float want_reward, int want_terminal) {
    float r = -1;
    int t = -1;
    assert_int_equal(dr3mt_step(e, action, obs, &r, &t), DR3_OK);
    assert_true(r == want_reward);
    assert_int_equal(t, want_terminal);
}

/* ------------------------------------------------------------------ counts, input */

static void test_counts(void **state) {
    (void)state;
    /* MinAtar: breakout 4 channels / 3 actions, freeway 7 / 3, asterix 4 / 5,
     * space invaders 6 / 4, seaquest 10 / 6 */
    const char *names[] = {"breakout", "freeway", "asterix", "space_invaders", "seaquest"};
    const size_t ch[] = {4, 7, 4, 6, 10}, na[] = {3, 3, 5, 4, 6};
    for (int i = 0; i < 5; i++) {
        dr3mt *e = NULL;
        assert_int_equal(dr3mt_create(&e, names[i], 1, NULL), DR3_OK);
        assert_string_equal(dr3mt_name(e), names[i]);
        assert_int_equal(dr3mt_num_channels(e), ch[i]);
        assert_int_equal(dr3mt_num_actions(e), na[i]);
        assert_int_equal(dr3mt_obs_size(e), ch[i] * 100);
        assert_true(dr3mt_num_channels(e) <= DR3MT_MAX_CHANNELS);
        dr3mt_free(e);
        assert_string_equal(dr3mt_names[i], names[i]);
    }
    assert_null(dr3mt_names[5]);
    dr3mt_options d = dr3mt_default_options();
    assert_true(d.sticky_action_prob == 0.1 && d.difficulty_ramping == 1);
}

static void test_bad_input(void **state) {
    (void)state;
    dr3mt *e = (dr3mt *)&e;
    assert_int_equal(dr3mt_create(&e, "pong", 1, NULL), DR3_ERR_INVALID_ARG);
    assert_null(e);
    assert_int_equal(dr3mt_create(&e, NULL, 1, NULL), DR3_ERR_INVALID_ARG);
    assert_int_equal(dr3mt_create(NULL, "breakout", 1, NULL), DR3_ERR_INVALID_ARG);
    dr3mt_options o = dr3mt_default_options();
    const double bad[] = {-0.1, 1.5, NAN};
    for (int i = 0; i < 3; i++) {
        o.sticky_action_prob = bad[i];
        e = (dr3mt *)&e;
        assert_int_equal(dr3mt_create(&e, "breakout", 1, &o), DR3_ERR_INVALID_ARG);
        assert_null(e);
    }
    dr3mt_free(NULL);

    assert_int_equal(dr3mt_create(&e, "asterix", 1, NULL), DR3_OK);
    float r = 7;
    int t = 7;
    /* no episode yet */
    assert_int_equal(dr3mt_step(e, 0, obs, &r, &t), DR3_ERR_STATE);
    assert_int_equal(dr3mt_reset(e, NULL), DR3_ERR_INVALID_ARG);
    assert_int_equal(dr3mt_reset(NULL, obs), DR3_ERR_INVALID_ARG);
    assert_int_equal(dr3mt_reset(e, obs), DR3_OK);
    uint8_t before[4 * DR3MT_CELLS], after[4 * DR3MT_CELLS];
    memcpy(before, obs, sizeof before);
    dr3mt_asterix saved = *dr3mt_state_asterix(e);
    assert_int_equal(dr3mt_step(e, -1, obs, &r, &t), DR3_ERR_RANGE);
    assert_int_equal(dr3mt_step(e, 5, obs, &r, &t), DR3_ERR_RANGE);
    assert_int_equal(dr3mt_step(e, 0, NULL, &r, &t), DR3_ERR_INVALID_ARG);
    assert_int_equal(dr3mt_step(e, 0, obs, NULL, &t), DR3_ERR_INVALID_ARG);
    assert_int_equal(dr3mt_step(e, 0, obs, &r, NULL), DR3_ERR_INVALID_ARG);
    assert_int_equal(dr3mt_step(NULL, 0, obs, &r, &t), DR3_ERR_INVALID_ARG);
    assert_true(r == 7 && t == 7); /* nothing written */
    assert_int_equal(dr3mt_steps(e), 0);
    assert_int_equal(dr3mt_last_action(e), -1);
    assert_memory_equal(dr3mt_state_asterix(e), &saved, sizeof saved);
    assert_int_equal(dr3mt_observe(e, after), DR3_OK);
    assert_memory_equal(before, after, sizeof before);
    assert_null(dr3mt_state_breakout(e));
    assert_null(dr3mt_state_freeway(e));
    assert_null(dr3mt_state_space_invaders(e));
    assert_null(dr3mt_state_seaquest(e));
    dr3mt_free(e);
}

/* ------------------------------------------------------------------ Breakout */
enum { BO_PADDLE, BO_BALL, BO_TRAIL, BO_BRICK };
enum { BO_NOOP, BO_LEFT, BO_RIGHT };

static void test_breakout_reset(void **state) {
    (void)state;
    int left = 0, right = 0;
    for (uint64_t seed = 0; seed < 40; seed++) {
        dr3mt *e = start("breakout", seed, 1);
        /* three full rows of bricks (rows 1–3), paddle in column 4 of the bottom row,
         * ball in row 4 at a side wall heading down and inward */
        assert_int_equal(channel_sum(BO_BRICK), 30);
        for (int x = 0; x < 10; x++)
            assert_true(cell(BO_BRICK, x, 1) && cell(BO_BRICK, x, 2) && cell(BO_BRICK, x, 3));
        assert_int_equal(channel_sum(BO_PADDLE), 1);
        assert_true(cell(BO_PADDLE, 4, 9));
        assert_int_equal(channel_sum(BO_BALL), 1);
        if (cell(BO_BALL, 0, 4)) {
            left++;
            assert_true(cell(BO_TRAIL, 1, 3) == 0 && channel_sum(BO_TRAIL) == 0); /* off grid */
        } else {
            assert_true(cell(BO_BALL, 9, 4));
            right++;
        }
        dr3mt_free(e);
    }
    assert_true(left > 5 && right > 5);
}

static void test_breakout_walls(void **state) {
    (void)state;
    dr3mt *e = start("breakout", 1, 1);
    dr3mt_breakout *s = dr3mt_state_breakout(e);
    /* down-left against the left wall from (0,5): reflected to (1,6) */
    s->ball_x = 0, s->ball_y = 5, s->dx = -1, s->dy = 1, s->paddle = 9;
    step(e, BO_NOOP, 0, 0);
    assert_true(cell(BO_BALL, 1, 6) && channel_sum(BO_BALL) == 1);
    assert_true(cell(BO_TRAIL, 0, 5)); /* behind it: it now moves down-right */
    assert_int_equal(s->dx, 1);
    /* right wall going up from (9,6): to (8,5) */
    s->ball_x = 9, s->ball_y = 6, s->dx = 1, s->dy = -1;
    step(e, BO_NOOP, 0, 0);
    assert_true(cell(BO_BALL, 8, 5) && s->dx == -1 && s->dy == -1);
    /* the ceiling at (3,0) going up-right: reflected down towards (4,1), which is a brick:
     * the brick breaks (+1), the ball turns up again and stays at (3,0) */
    s->ball_x = 3, s->ball_y = 0, s->dx = 1, s->dy = -1;
    step(e, BO_NOOP, 1, 0);
    assert_true(cell(BO_BALL, 3, 0) && !cell(BO_BRICK, 4, 1));
    assert_int_equal(channel_sum(BO_BRICK), 29);
    /* next step: the ceiling again, now (4,1) is empty and the ball enters it */
    step(e, BO_NOOP, 0, 0);
    assert_true(cell(BO_BALL, 4, 1) && s->dy == 1);
    dr3mt_free(e);
}

static void test_breakout_bricks(void **state) {
    (void)state;
    dr3mt *e = start("breakout", 2, 1);
    dr3mt_breakout *s = dr3mt_state_breakout(e);
    /* from (5,4) going up-right the ball would enter (6,3): that brick breaks for +1 and the
     * ball is reflected downward, staying in (5,4) */
    s->ball_x = 5, s->ball_y = 4, s->dx = 1, s->dy = -1, s->paddle = 0;
    step(e, BO_NOOP, 1, 0);
    assert_false(cell(BO_BRICK, 6, 3));
    assert_true(cell(BO_BRICK, 5, 3) && cell(BO_BRICK, 7, 3) && cell(BO_BRICK, 6, 2));
    assert_int_equal(channel_sum(BO_BRICK), 29);
    assert_true(cell(BO_BALL, 5, 4) && s->dx == 1 && s->dy == 1);
    assert_true(cell(BO_TRAIL, 4, 3)); /* behind it on its new path down-right */
    step(e, BO_NOOP, 0, 0);
    assert_true(cell(BO_BALL, 6, 5));

    /* clearing the last brick refills the three rows */
    memset(s->brick, 0, sizeof s->brick);
    s->brick[3][6] = 1;
    s->ball_x = 5, s->ball_y = 4, s->dx = 1, s->dy = -1;
    step(e, BO_NOOP, 1, 0);
    assert_int_equal(channel_sum(BO_BRICK), 30);
    for (int x = 0; x < 10; x++)
        assert_true(cell(BO_BRICK, x, 1) && cell(BO_BRICK, x, 2) && cell(BO_BRICK, x, 3));
    dr3mt_free(e);
}

static void test_breakout_paddle(void **state) {
    (void)state;
    dr3mt *e = start("breakout", 3, 1);
    dr3mt_breakout *s = dr3mt_state_breakout(e);
    /* ball at (4,8) falling right lands on column 5 of the bottom row. The paddle moves
     * first: from 4 one step right it is there, so the ball bounces up keeping dx */
    s->ball_x = 4, s->ball_y = 8, s->dx = 1, s->dy = 1, s->paddle = 4;
    step(e, BO_RIGHT, 0, 0);
    assert_true(cell(BO_PADDLE, 5, 9) && cell(BO_BALL, 4, 8));
    assert_true(s->dx == 1 && s->dy == -1);
    step(e, BO_NOOP, 0, 0);
    assert_true(cell(BO_BALL, 5, 7));

    /* paddle under the ball's own column (4): the ball clips its edge and goes back left */
    s->ball_x = 4, s->ball_y = 8, s->dx = 1, s->dy = 1, s->paddle = 4;
    step(e, BO_NOOP, 0, 0);
    assert_true(s->dx == -1 && s->dy == -1);
    step(e, BO_NOOP, 0, 0);
    assert_true(cell(BO_BALL, 3, 7));

    /* the paddle clamps at the wall */
    s->paddle = 0;
    s->ball_x = 5, s->ball_y = 5, s->dx = 1, s->dy = -1;
    step(e, BO_LEFT, 0, 0);
    assert_true(cell(BO_PADDLE, 0, 9));

    /* a miss: the ball enters the bottom row and the episode ends */
    s->ball_x = 4, s->ball_y = 8, s->dx = 1, s->dy = 1, s->paddle = 8;
    step(e, BO_NOOP, 0, 1);
    assert_true(cell(BO_BALL, 5, 9));
    float r;
    int t;
    assert_int_equal(dr3mt_step(e, BO_NOOP, obs, &r, &t), DR3_ERR_STATE);
    assert_int_equal(dr3mt_reset(e, obs), DR3_OK); /* a new episode starts */
    step(e, BO_NOOP, 0, 0);
    dr3mt_free(e);
}

/* ------------------------------------------------------------------ Freeway */
enum { FW_CHICKEN, FW_CAR, FW_SPEED1 };
enum { FW_NOOP, FW_UP, FW_DOWN };

/* Parks every car in column 9 at speed 5, heading right: none reaches column 4 soon. */
static void freeway_park(dr3mt_freeway *s) {
    for (int i = 0; i < 8; i++) {
        s->car_x[i] = 9, s->car_dir[i] = 1, s->car_speed[i] = 5, s->car_timer[i] = 5;
    }
}

static int chicken_row(void) {
    for (int y = 0; y < 10; y++)
        if (cell(FW_CHICKEN, 4, y)) return y;
    return -1;
}

static void test_freeway_moves(void **state) {
    (void)state;
    dr3mt *e = start("freeway", 1, 1);
    dr3mt_freeway *s = dr3mt_state_freeway(e);
    assert_int_equal(chicken_row(), 9);
    assert_int_equal(channel_sum(FW_CAR), 8);
    for (int y = 1; y <= 8; y++) {
        int n = 0;
        for (int x = 0; x < 10; x++) n += cell(FW_CAR, x, y);
        assert_int_equal(n, 1); /* one car per lane, rows 1–8 */
    }
    freeway_park(s);
    /* holding up: the chicken moves on steps 1, 4, 7 (once every 3 steps) */
    const int rows[] = {8, 8, 8, 7, 7, 7, 6};
    for (int i = 0; i < 7; i++) {
        step(e, FW_UP, 0, 0);
        assert_int_equal(chicken_row(), rows[i]);
    }
    /* the trail: car in lane 0 (row 1) at column 0 heading left at speed 3 has its trail
     * at column 1 in channel speed-3; one heading right from column 0 wraps to column 9 */
    s->car_x[0] = 0, s->car_dir[0] = -1, s->car_speed[0] = 3, s->car_timer[0] = 10;
    s->car_x[1] = 0, s->car_dir[1] = 1, s->car_speed[1] = 1, s->car_timer[1] = 10;
    step(e, FW_NOOP, 0, 0);
    assert_true(cell(FW_SPEED1 + 2, 1, 1) && cell(FW_CAR, 0, 1));
    assert_true(cell(FW_SPEED1, 9, 2) && cell(FW_CAR, 0, 2));
    int trails = 0;
    for (int c = FW_SPEED1; c < FW_SPEED1 + 5; c++) trails += channel_sum(c);
    assert_int_equal(trails, 8);
    dr3mt_free(e);
}

static void test_freeway_score_and_hits(void **state) {
    (void)state;
    dr3mt *e = start("freeway", 2, 1);
    dr3mt_freeway *s = dr3mt_state_freeway(e);
    freeway_park(s);
    /* reaching row 0 scores +1 and puts the chicken back at the bottom */
    s->chicken_y = 1, s->cooldown = 0;
    step(e, FW_UP, 1, 0);
    assert_int_equal(chicken_row(), 9);
    for (int i = 0; i < 8; i++) assert_true(s->car_speed[i] >= 1 && s->car_speed[i] <= 5);

    /* a car driving into the chicken (row 5 = lane 4) sends it to the bottom */
    freeway_park(s);
    s->chicken_y = 5, s->cooldown = 0;
    s->car_x[4] = 3, s->car_dir[4] = 1, s->car_speed[4] = 1, s->car_timer[4] = 1;
    step(e, FW_NOOP, 0, 0);
    assert_int_equal(chicken_row(), 9);
    assert_true(cell(FW_CAR, 4, 5));

    /* the chicken walking into a standing car (row 5 from row 6) is sent back too */
    freeway_park(s);
    s->chicken_y = 6, s->cooldown = 0;
    s->car_x[4] = 4, s->car_timer[4] = 5;
    step(e, FW_UP, 0, 0);
    assert_int_equal(chicken_row(), 9);

    /* down at the bottom stays put; up next step is allowed (no move, no cooldown) */
    freeway_park(s);
    s->cooldown = 0;
    step(e, FW_DOWN, 0, 0);
    assert_int_equal(chicken_row(), 9);
    step(e, FW_UP, 0, 0);
    assert_int_equal(chicken_row(), 8);
    dr3mt_free(e);
}

static void test_freeway_time_limit(void **state) {
    (void)state;
    dr3mt *e = start("freeway", 3, 1);
    /* standing still at the bottom: never hit, no reward; the 2500th step ends it */
    for (int i = 1; i < 2500; i++) step(e, FW_NOOP, 0, 0);
    assert_int_equal(dr3mt_steps(e), 2499);
    step(e, FW_NOOP, 0, 1);
    dr3mt_free(e);
}

/* ------------------------------------------------------------------ Asterix */
enum { AX_PLAYER, AX_ENEMY, AX_TRAIL, AX_GOLD };
enum { AX_NOOP, AX_LEFT, AX_UP, AX_RIGHT, AX_DOWN };

static void asterix_quiet(dr3mt_asterix *s) {
    memset(s->obj, 0, sizeof s->obj);
    s->spawn_timer = 1000, s->move_timer = 1000;
}

static void test_asterix_gold_enemy(void **state) {
    (void)state;
    dr3mt *e = start("asterix", 1, 1);
    dr3mt_asterix *s = dr3mt_state_asterix(e);
    assert_true(cell(AX_PLAYER, 5, 5) && channel_sum(AX_PLAYER) == 1);
    asterix_quiet(s);
    /* gold at (6,5) heading left: stepping right onto it gives +1 and removes it */
    s->obj[4] = (dr3mt_asterix_obj){1, 6, -1, 1};
    step(e, AX_RIGHT, 1, 0);
    assert_true(cell(AX_PLAYER, 6, 5) && channel_sum(AX_GOLD) == 0);

    /* gold moving onto the player: (5,3) heading right, player at (6,3) */
    asterix_quiet(s);
    s->player_x = 6, s->player_y = 3;
    s->obj[2] = (dr3mt_asterix_obj){1, 5, 1, 1};
    s->move_timer = 1;
    step(e, AX_NOOP, 1, 0);
    assert_int_equal(channel_sum(AX_GOLD), 0);

    /* objects show their trail behind them and leave at the far side */
    asterix_quiet(s);
    s->player_x = 0, s->player_y = 8;
    s->obj[0] = (dr3mt_asterix_obj){1, 3, 1, 0};
    s->obj[1] = (dr3mt_asterix_obj){1, 9, 1, 1};
    s->move_timer = 1;
    step(e, AX_NOOP, 0, 0);
    assert_true(cell(AX_ENEMY, 4, 1) && cell(AX_TRAIL, 3, 1));
    assert_int_equal(channel_sum(AX_GOLD), 0); /* moved off the grid */
    assert_int_equal(channel_sum(AX_TRAIL), 1);

    /* the player cannot leave rows 1–8 */
    asterix_quiet(s);
    step(e, AX_DOWN, 0, 0);
    assert_true(cell(AX_PLAYER, 0, 8));

    /* an enemy moving onto the player ends the episode */
    asterix_quiet(s);
    s->player_x = 5, s->player_y = 5;
    s->obj[4] = (dr3mt_asterix_obj){1, 4, 1, 0};
    s->move_timer = 1;
    step(e, AX_NOOP, 0, 1);
    dr3mt_free(e);

    /* and so does walking into one */
    e = start("asterix", 2, 1);
    s = dr3mt_state_asterix(e);
    asterix_quiet(s);
    s->obj[3] = (dr3mt_asterix_obj){1, 5, -1, 0}; /* (5,4), just above the player */
    step(e, AX_UP, 0, 1);
    dr3mt_free(e);
}

static void test_asterix_spawn(void **state) {
    (void)state;
    int from_left = 0, from_right = 0, gold = 0, n = 0;
    for (uint64_t seed = 0; seed < 300; seed++) {
        dr3mt *e = start("asterix", seed, 1);
        dr3mt_asterix *s = dr3mt_state_asterix(e);
        asterix_quiet(s);
        /* every lane but lane 2 (row 3) taken: the spawn goes there, at a side */
        for (int i = 0; i < 8; i++)
            if (i != 2) s->obj[i] = (dr3mt_asterix_obj){1, 5, 1, 1};
        s->player_y = 8, s->player_x = 0;
        s->spawn_timer = 1;
        step(e, AX_NOOP, 0, 0);
        assert_true(s->obj[2].active);
        int x = s->obj[2].x, dir = s->obj[2].dir;
        assert_true((x == 0 && dir == 1) || (x == 9 && dir == -1));
        from_left += x == 0;
        from_right += x == 9;
        gold += s->obj[2].gold;
        n++;
        dr3mt_free(e);
    }
    assert_true(from_left > 100 && from_right > 100);
    /* gold one time in three: 100 ± 3σ (σ = √(300·1/3·2/3) ≈ 8.2) */
    assert_true(abs(gold - n / 3) < 25);
}

/* Spawns come every spawn_interval steps: 10 at first, one less every 100 steps when
 * ramping (the move interval, 5, one less every 200). Clearing the board before each step
 * keeps the player safe and a lane free, so a spawn is visible as an active object. */
static void asterix_spawn_steps(int ramping, int *spawn_steps, int max) {
    dr3mt *e = start("asterix", 4, ramping);
    dr3mt_asterix *s = dr3mt_state_asterix(e);
    int k = 0;
    for (int t = 1; t <= 160 && k < max; t++) {
        memset(s->obj, 0, sizeof s->obj);
        step(e, AX_NOOP, 0, 0);
        int any = 0;
        for (int i = 0; i < 8; i++) any |= s->obj[i].active;
        if (any) spawn_steps[k++] = t;
    }
    if (ramping) {
        /* after 200 steps in total: spawn interval 8, move interval 4 */
        while (dr3mt_steps(e) < 200) {
            memset(s->obj, 0, sizeof s->obj);
            step(e, AX_NOOP, 0, 0);
        }
        assert_int_equal(s->spawn_interval, 8);
        assert_int_equal(s->move_interval, 4);
    }
    dr3mt_free(e);
}

static void test_asterix_ramping(void **state) {
    (void)state;
    int got[16];
    /* 10, 20, …, 100 at interval 10; the spawn at 100 sets the timer to 10 before the ramp
     * shortens the interval to 9: then 110, 119, 128, 137, 146, 155 */
    const int ramp[16] = {10, 20,  30,  40,  50,  60,  70,  80,
                          90, 100, 110, 119, 128, 137, 146, 155};
    asterix_spawn_steps(1, got, 16);
    assert_memory_equal(got, ramp, sizeof ramp);
    const int flat[16] = {10, 20,  30,  40,  50,  60,  70,  80,
                          90, 100, 110, 120, 130, 140, 150, 160};
    asterix_spawn_steps(0, got, 16);
    assert_memory_equal(got, flat, sizeof flat);
}

/* ------------------------------------------------------------------ Space Invaders */
enum { SI_CANNON, SI_ALIEN, SI_LEFT, SI_RIGHT, SI_FBULLET, SI_EBULLET };
enum { SI_NOOP, SI_MLEFT, SI_MRIGHT, SI_FIRE };

static void si_quiet(dr3mt_space_invaders *s) {
    s->move_timer = 1000, s->enemy_shot_timer = 1000;
}

static void test_si_start_and_shoot(void **state) {
    (void)state;
    dr3mt *e = start("space_invaders", 1, 1);
    dr3mt_space_invaders *s = dr3mt_state_space_invaders(e);
    /* 4 rows × 6 aliens in rows 0–3, columns 2–7, moving left; cannon at (5,9) */
    assert_int_equal(channel_sum(SI_ALIEN), 24);
    assert_int_equal(channel_sum(SI_LEFT), 24);
    assert_int_equal(channel_sum(SI_RIGHT), 0);
    assert_true(cell(SI_ALIEN, 2, 0) && cell(SI_ALIEN, 7, 3) && !cell(SI_ALIEN, 1, 0));
    assert_true(cell(SI_CANNON, 5, 9));
    si_quiet(s);
    /* fire: the bullet is in row 8 after the step, then climbs a row a step and meets the
     * alien at (5,3) on the 6th step: +1, both gone */
    step(e, SI_FIRE, 0, 0);
    assert_true(cell(SI_FBULLET, 5, 8));
    for (int i = 2; i <= 5; i++) step(e, SI_NOOP, 0, 0);
    assert_true(cell(SI_FBULLET, 5, 4));
    step(e, SI_NOOP, 1, 0);
    assert_false(cell(SI_ALIEN, 5, 3));
    assert_true(cell(SI_ALIEN, 5, 2));
    assert_int_equal(channel_sum(SI_FBULLET), 0);
    assert_int_equal(channel_sum(SI_ALIEN), 23);

    /* firing every step from column 0 (no aliens above): a shot every 5 steps, so after 6
     * steps the shots of steps 1 and 6 are in rows 3 and 8 */
    s->cannon_x = 0, s->shot_cooldown = 0;
    si_quiet(s);
    for (int i = 0; i < 6; i++) step(e, SI_FIRE, 0, 0);
    assert_int_equal(channel_sum(SI_FBULLET), 2);
    assert_true(cell(SI_FBULLET, 0, 3) && cell(SI_FBULLET, 0, 8));
    dr3mt_free(e);
}

static void test_si_aliens_move(void **state) {
    (void)state;
    dr3mt *e = start("space_invaders", 2, 1);
    dr3mt_space_invaders *s = dr3mt_state_space_invaders(e);
    si_quiet(s);
    /* the formation moves left one column when its timer runs out */
    s->move_timer = 1;
    step(e, SI_NOOP, 0, 0);
    assert_true(cell(SI_ALIEN, 1, 0) && cell(SI_ALIEN, 6, 3) && !cell(SI_ALIEN, 7, 3));
    assert_int_equal(s->move_timer, 12); /* 24 aliens: the wave's interval, 12 */

    /* three aliens left, at the left edge: they drop a row and turn right; from then on
     * they move every 3 steps (fewer aliens than the interval: one step per alien) */
    memset(s->alien, 0, sizeof s->alien);
    s->alien[2][0] = s->alien[2][1] = s->alien[2][2] = 1;
    s->alien_dir = -1, s->move_timer = 1;
    step(e, SI_NOOP, 0, 0);
    assert_true(cell(SI_ALIEN, 0, 3) && cell(SI_ALIEN, 2, 3) && channel_sum(SI_ALIEN) == 3);
    assert_int_equal(channel_sum(SI_RIGHT), 3);
    step(e, SI_NOOP, 0, 0);
    step(e, SI_NOOP, 0, 0);
    assert_true(cell(SI_ALIEN, 0, 3));
    step(e, SI_NOOP, 0, 0);
    assert_true(cell(SI_ALIEN, 1, 3) && cell(SI_ALIEN, 3, 3) && !cell(SI_ALIEN, 0, 3));

    /* one alien left moves every step */
    memset(s->alien, 0, sizeof s->alien);
    s->alien[4][5] = 1;
    s->alien_dir = 1, s->move_timer = 1;
    s->enemy_shot_timer = 1000;
    step(e, SI_NOOP, 0, 0);
    step(e, SI_NOOP, 0, 0);
    assert_true(cell(SI_ALIEN, 7, 4));
    dr3mt_free(e);
}

static void test_si_endings(void **state) {
    (void)state;
    /* an alien at the left edge in row 8 drops into the cannon's row: the episode ends */
    dr3mt *e = start("space_invaders", 3, 1);
    dr3mt_space_invaders *s = dr3mt_state_space_invaders(e);
    si_quiet(s);
    memset(s->alien, 0, sizeof s->alien);
    s->alien[8][0] = 1;
    s->alien_dir = -1, s->move_timer = 1;
    step(e, SI_NOOP, 0, 1);
    assert_true(cell(SI_ALIEN, 0, 9));
    dr3mt_free(e);

    /* an alien bullet reaching the cannon ends it; stepping aside in time does not */
    e = start("space_invaders", 3, 1);
    s = dr3mt_state_space_invaders(e);
    si_quiet(s);
    s->ebullet[8][5] = 1;
    step(e, SI_MLEFT, 0, 0);
    assert_true(cell(SI_EBULLET, 5, 9) && cell(SI_CANNON, 4, 9));
    step(e, SI_NOOP, 0, 0);
    assert_int_equal(channel_sum(SI_EBULLET), 0);
    s->ebullet[8][4] = 1;
    step(e, SI_NOOP, 0, 1);
    dr3mt_free(e);

    /* the aliens fire from the lowest alien of the column nearest the cannon: cannon at 5,
     * full formation: from (5,3) into (5,4) */
    e = start("space_invaders", 3, 1);
    s = dr3mt_state_space_invaders(e);
    si_quiet(s);
    s->enemy_shot_timer = 1;
    step(e, SI_NOOP, 0, 0);
    assert_true(cell(SI_EBULLET, 5, 4) && channel_sum(SI_EBULLET) == 1);
    assert_int_equal(s->enemy_shot_timer, 10);
    /* cannon at 0: the nearest occupied column is 2 */
    s->cannon_x = 0, s->enemy_shot_timer = 1;
    step(e, SI_NOOP, 0, 0);
    assert_true(cell(SI_EBULLET, 2, 4) && cell(SI_EBULLET, 5, 5));
    dr3mt_free(e);
}

static void test_si_waves(void **state) {
    (void)state;
    for (int ramping = 0; ramping <= 1; ramping++) {
        dr3mt *e = start("space_invaders", 4, ramping);
        dr3mt_space_invaders *s = dr3mt_state_space_invaders(e);
        si_quiet(s);
        /* the last alien at (5,8); a player bullet at (5,9) climbs into it: +1, and a new
         * wave appears, moving every 11 steps when ramping (12 without) */
        memset(s->alien, 0, sizeof s->alien);
        s->alien[8][5] = 1;
        s->fbullet[9][5] = 1;
        step(e, SI_NOOP, 1, 0);
        assert_int_equal(channel_sum(SI_ALIEN), 24);
        assert_int_equal(channel_sum(SI_LEFT), 24);
        assert_int_equal(s->waves, 1);
        int interval = ramping ? 11 : 12;
        assert_int_equal(s->base_interval, interval);
        s->enemy_shot_timer = 1000;
        for (int i = 1; i < interval; i++) step(e, SI_NOOP, 0, 0);
        assert_true(cell(SI_ALIEN, 2, 0));
        step(e, SI_NOOP, 0, 0);
        assert_true(cell(SI_ALIEN, 1, 0) && !cell(SI_ALIEN, 7, 0));
        dr3mt_free(e);
    }
}

/* ------------------------------------------------------------------ Seaquest */
enum {
    SQ_FRONT,
    SQ_BACK,
    SQ_FBULLET,
    SQ_TRAIL,
    SQ_EBULLET,
    SQ_FISH,
    SQ_SUB,
    SQ_OXYGEN,
    SQ_DIVERS,
    SQ_DIVER
};
enum { SQ_NOOP, SQ_LEFT, SQ_UP, SQ_RIGHT, SQ_DOWN, SQ_FIRE };

static void seaquest_quiet(dr3mt_seaquest *s) {
    memset(s->enemy, 0, sizeof s->enemy);
    memset(s->diver, 0, sizeof s->diver);
    s->enemy_spawn_timer = s->enemy_move_timer = 1000;
    s->diver_spawn_timer = s->diver_move_timer = 1000;
}

static int bar(int c) {
    int n = 0;
    for (int x = 0; x < 10; x++) n += cell(c, x, 9);
    assert_int_equal(channel_sum(c), n); /* gauges live in the bottom row only */
    return n;
}

static void test_seaquest_oxygen_and_surfacing(void **state) {
    (void)state;
    dr3mt *e = start("seaquest", 1, 1);
    dr3mt_seaquest *s = dr3mt_state_seaquest(e);
    /* the sub starts on the surface at column 5 facing right (its back at column 4), with
     * a full oxygen bar (10 cells) and no divers */
    assert_true(cell(SQ_FRONT, 5, 0) && cell(SQ_BACK, 4, 0));
    assert_int_equal(bar(SQ_OXYGEN), 10);
    assert_int_equal(bar(SQ_DIVERS), 0);
    seaquest_quiet(s);
    /* on the surface no oxygen is used */
    step(e, SQ_NOOP, 0, 0);
    assert_int_equal(s->oxygen, 200);
    /* turning left moves the sub and flips it */
    step(e, SQ_LEFT, 0, 0);
    assert_true(cell(SQ_FRONT, 4, 0) && cell(SQ_BACK, 5, 0));
    /* under water it uses one unit a step; the bar shows ⌈10·oxygen/200⌉ cells */
    step(e, SQ_DOWN, 0, 0);
    assert_int_equal(s->oxygen, 199);
    assert_int_equal(bar(SQ_OXYGEN), 10);
    s->oxygen = 21;
    step(e, SQ_NOOP, 0, 0);
    assert_int_equal(bar(SQ_OXYGEN), 1); /* 20 units: ⌈1.0⌉ */
    /* surfacing with 3 divers: one leaves, oxygen refills, no reward; ramping shortens the
     * enemy spawn interval 20 → 19 */
    s->y = 1, s->divers = 3, s->oxygen = 50;
    step(e, SQ_UP, 0, 0);
    assert_int_equal(bar(SQ_DIVERS), 2);
    assert_int_equal(bar(SQ_OXYGEN), 10);
    assert_true(s->enemy_spawn_interval == 19 && s->enemy_move_interval == 5);
    /* surfacing with 6: all leave and each oxygen cell pays +1: 101 units → ⌈5.05⌉ = 6;
     * the second surfacing also makes enemies move every 4 steps */
    s->y = 1, s->divers = 6, s->oxygen = 101;
    step(e, SQ_UP, 6, 0);
    assert_int_equal(bar(SQ_DIVERS), 0);
    assert_int_equal(s->oxygen, 200);
    assert_true(s->enemy_spawn_interval == 18 && s->enemy_move_interval == 4);
    /* surfacing with none ends the episode */
    s->y = 1;
    step(e, SQ_UP, 0, 1);
    dr3mt_free(e);

    /* running out of oxygen ends it */
    e = start("seaquest", 1, 0);
    s = dr3mt_state_seaquest(e);
    seaquest_quiet(s);
    s->y = 3, s->oxygen = 2;
    step(e, SQ_NOOP, 0, 0);
    step(e, SQ_NOOP, 0, 1);
    dr3mt_free(e);

    /* without ramping surfacing leaves the intervals alone */
    e = start("seaquest", 1, 0);
    s = dr3mt_state_seaquest(e);
    seaquest_quiet(s);
    s->y = 1, s->divers = 2;
    step(e, SQ_UP, 0, 0);
    assert_true(s->enemy_spawn_interval == 20 && s->enemy_move_interval == 5);
    dr3mt_free(e);
}

static void test_seaquest_divers_and_enemies(void **state) {
    (void)state;
    dr3mt *e = start("seaquest", 2, 1);
    dr3mt_seaquest *s = dr3mt_state_seaquest(e);
    seaquest_quiet(s);
    /* a diver at (6,3) heading left; the sub at (5,3) moves right onto it: aboard */
    s->x = 5, s->y = 3;
    s->diver[2] = (dr3mt_seaquest_obj){1, 6, -1, 0, 0};
    assert_int_equal(dr3mt_observe(e, obs), DR3_OK);
    assert_true(cell(SQ_DIVER, 6, 3) && cell(SQ_TRAIL, 7, 3));
    step(e, SQ_RIGHT, 0, 0);
    assert_int_equal(bar(SQ_DIVERS), 1);
    assert_int_equal(channel_sum(SQ_DIVER), 0);
    /* with six aboard a diver is left where it is */
    s->divers = 6;
    s->diver[2] = (dr3mt_seaquest_obj){1, 5, 1, 0, 0};
    step(e, SQ_LEFT, 0, 0);
    assert_true(cell(SQ_DIVER, 5, 3) && s->divers == 6);
    s->divers = 1;
    seaquest_quiet(s);

    /* a shot: the sub at (2,4) facing right fires; the bullet is at (3,4) after the step,
     * (4,4) after the next, and meets the fish at (5,4) on the third: +1, both gone */
    s->x = 2, s->y = 4, s->facing = 1, s->shot_cooldown = 0;
    s->enemy[3] = (dr3mt_seaquest_obj){1, 5, -1, 0, 0};
    step(e, SQ_FIRE, 0, 0);
    assert_true(cell(SQ_FBULLET, 3, 4) && cell(SQ_FISH, 5, 4));
    step(e, SQ_NOOP, 0, 0);
    assert_true(cell(SQ_FBULLET, 4, 4));
    step(e, SQ_NOOP, 1, 0);
    assert_int_equal(channel_sum(SQ_FBULLET) + channel_sum(SQ_FISH), 0);

    /* an enemy submarine at (8,4) heading left fires when its timer runs out: the bullet
     * appears at (7,4), then flies left a cell a step and reaches the sub at (5,4) on the
     * third step */
    seaquest_quiet(s);
    s->x = 5, s->y = 4;
    s->enemy[3] = (dr3mt_seaquest_obj){1, 8, -1, 1, 1};
    step(e, SQ_NOOP, 0, 0);
    assert_true(cell(SQ_SUB, 8, 4) && cell(SQ_TRAIL, 9, 4) && cell(SQ_EBULLET, 7, 4));
    step(e, SQ_NOOP, 0, 0);
    assert_true(cell(SQ_EBULLET, 6, 4));
    step(e, SQ_NOOP, 0, 1);
    dr3mt_free(e);

    /* moving into a fish ends the episode */
    e = start("seaquest", 3, 1);
    s = dr3mt_state_seaquest(e);
    seaquest_quiet(s);
    s->x = 5, s->y = 4;
    s->enemy[3] = (dr3mt_seaquest_obj){1, 6, 1, 0, 0};
    step(e, SQ_RIGHT, 0, 1);
    dr3mt_free(e);

    /* spawns: a free lane, at a side, heading inward */
    int subs = 0;
    for (uint64_t seed = 0; seed < 90; seed++) {
        e = start("seaquest", seed, 1);
        s = dr3mt_state_seaquest(e);
        seaquest_quiet(s);
        s->enemy_spawn_timer = 1;
        step(e, SQ_NOOP, 0, 0);
        int n = 0;
        for (int i = 0; i < 8; i++) {
            const dr3mt_seaquest_obj *o = &s->enemy[i];
            if (!o->active) continue;
            n++;
            assert_true((o->x == 0 && o->dir == 1) || (o->x == 9 && o->dir == -1));
            subs += o->sub;
        }
        assert_int_equal(n, 1);
        dr3mt_free(e);
    }
    assert_true(subs > 10 && subs < 50); /* one in three: 30 ± 13 (3σ ≈ 13.4) */
}

/* ------------------------------------------------------------------ all games */

#define NUM_GAMES 5
static const char *const games[NUM_GAMES] = {"breakout", "freeway", "asterix", "space_invaders",
                                             "seaquest"};

/* Plays `steps` steps of uniformly random actions (from `policy_seed`), restarting
 * episodes; writes a hash of every observation, reward and terminal flag. */
static uint64_t play_hash(const char *game, uint64_t seed, uint64_t policy_seed, int steps) {
    dr3mt *e = NULL;
    assert_int_equal(dr3mt_create(&e, game, seed, NULL), DR3_OK);
    dr3_rng pol;
    dr3_rng_seed(&pol, policy_seed);
    uint64_t h = 1469598103934665603ull;
    assert_int_equal(dr3mt_reset(e, obs), DR3_OK);
    size_t n = dr3mt_obs_size(e);
    for (int t = 0; t < steps; t++) {
        float r;
        int term;
        int a = (int)dr3_rng_below(&pol, dr3mt_num_actions(e));
        assert_int_equal(dr3mt_step(e, a, obs, &r, &term), DR3_OK);
        for (size_t i = 0; i < n; i++) {
            assert_true(obs[i] <= 1);
            h = (h ^ obs[i]) * 1099511628211ull;
        }
        h = (h ^ (uint64_t)(r * 16) ^ ((uint64_t)term << 8)) * 1099511628211ull;
        if (term) assert_int_equal(dr3mt_reset(e, obs), DR3_OK);
    }
    dr3mt_free(e);
    return h;
}

static void test_determinism(void **state) {
    (void)state;
    for (int g = 0; g < NUM_GAMES; g++) {
        uint64_t a = play_hash(games[g], 11, 5, 3000), b = play_hash(games[g], 11, 5, 3000);
        uint64_t c = play_hash(games[g], 12, 5, 3000);
        assert_true(a == b);
        if (a == c) fail_msg("%s: seeds 11 and 12 gave the same trajectory", games[g]);
    }
}

/* With sticky probability p, asking every step for an action different from the last one
 * executed shows the repeats directly: the executed action differs from the request
 * exactly when the previous one stuck. */
static double sticky_rate(const char *game, double p, int steps) {
    dr3mt_options o = dr3mt_default_options();
    o.sticky_action_prob = p;
    dr3mt *e = NULL;
    assert_int_equal(dr3mt_create(&e, game, 99, &o), DR3_OK);
    assert_int_equal(dr3mt_reset(e, obs), DR3_OK);
    int n = (int)dr3mt_num_actions(e), stuck = 0;
    for (int t = 0; t < steps; t++) {
        int prev = dr3mt_last_action(e);
        int want = prev < 0 ? 1 : (prev + 1) % n;
        float r;
        int term;
        assert_int_equal(dr3mt_step(e, want, obs, &r, &term), DR3_OK);
        int got = dr3mt_last_action(e);
        if (got != want) {
            assert_int_equal(got, prev < 0 ? 0 : prev); /* a repeat, no-op at the start */
            stuck++;
        }
        if (term) assert_int_equal(dr3mt_reset(e, obs), DR3_OK);
    }
    dr3mt_free(e);
    return (double)stuck / steps;
}

static void test_sticky_actions(void **state) {
    (void)state;
    const int n = 20000;
    double sd = sqrt(0.1 * 0.9 / n); /* binomial standard deviation of the rate, 0.0021 */
    for (int g = 0; g < NUM_GAMES; g++) {
        double rate = sticky_rate(games[g], 0.1, n);
        printf("# %s: sticky rate %.4f at p = 0.1 (%d steps)\n", games[g], rate, n);
        if (fabs(rate - 0.1) > 4 * sd)
            fail_msg("%s: rate %.4f, expected 0.1 ± %.4f", games[g], rate, 4 * sd);
        assert_true(sticky_rate(games[g], 0.0, 5000) == 0.0);
        assert_true(sticky_rate(games[g], 1.0, 500) == 1.0);
    }
}

/* Uniformly random play: mean return and length over 200 episodes, printed; the bounds
 * only catch a broken game (an episode that never ends, no reward ever). */
static void test_random_policy(void **state) {
    (void)state;
    const double lo_ret[NUM_GAMES] = {0.05, 0.0, 0.05, 1.0, 0.0};
    const double hi_ret[NUM_GAMES] = {5, 5, 10, 50, 5};
    for (int g = 0; g < NUM_GAMES; g++) {
        dr3mt *e = NULL;
        assert_int_equal(dr3mt_create(&e, games[g], 2026, NULL), DR3_OK);
        dr3_rng pol;
        dr3_rng_seed(&pol, 7);
        double ret = 0, len = 0;
        const int episodes = 200;
        for (int ep = 0; ep < episodes; ep++) {
            assert_int_equal(dr3mt_reset(e, obs), DR3_OK);
            int term = 0;
            while (!term) {
                float r;
                int a = (int)dr3_rng_below(&pol, dr3mt_num_actions(e));
                assert_int_equal(dr3mt_step(e, a, obs, &r, &term), DR3_OK);
                ret += r;
                len += 1;
                assert_true(dr3mt_steps(e) <= 100000);
            }
        }
        ret /= episodes, len /= episodes;
        printf("# %s: random policy, %d episodes: mean return %.3f, mean length %.1f\n",
               games[g], episodes, ret, len);
        assert_true(ret >= lo_ret[g] && ret <= hi_ret[g]);
        if (g == 1) assert_true(len == 2500.0);
        dr3mt_free(e);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_breakout_reset),
        cmocka_unit_test(test_breakout_walls),
        cmocka_unit_test(test_breakout_bricks),
        cmocka_unit_test(test_breakout_paddle),
        cmocka_unit_test(test_freeway_moves),
        cmocka_unit_test(test_freeway_score_and_hits),
        cmocka_unit_test(test_freeway_time_limit),
        cmocka_unit_test(test_asterix_gold_enemy),
        cmocka_unit_test(test_asterix_spawn),
        cmocka_unit_test(test_asterix_ramping),
        cmocka_unit_test(test_si_start_and_shoot),
        cmocka_unit_test(test_si_aliens_move),
        cmocka_unit_test(test_si_endings),
        cmocka_unit_test(test_si_waves),
        cmocka_unit_test(test_seaquest_oxygen_and_surfacing),
        cmocka_unit_test(test_seaquest_divers_and_enemies),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_sticky_actions),
        cmocka_unit_test(test_random_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
