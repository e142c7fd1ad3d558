/* The MinAtar games' internal state, exposed for tests that set up positions by hand
 * (tests/test_minatar.c). Not for programs: the layout changes whenever the games do.
 * Coordinates: row 0 is the top, column 0 the left; a direction +1 is right/down. */
#ifndef DR3_MINATAR_STATE_H
#define DR3_MINATAR_STATE_H

#include "minatar.h"

/* Breakout: paddle on row 9, bricks anywhere (reset fills rows 1–3). */
typedef struct dr3mt_breakout {
    int paddle;            /* column of the one-cell paddle on row 9 */
    int ball_x, ball_y;    /* the ball's cell */
    int dx, dy;            /* its direction, each ±1 (dy = +1 is downward) */
    uint8_t brick[10][10]; /* [row][col] */
} dr3mt_breakout;

/* Freeway: chicken in column 4; car i drives in row i + 1 and wraps around. */
typedef struct dr3mt_freeway {
    int chicken_y;
    int cooldown; /* steps before the chicken may move again (0: now) */
    int car_x[8];
    int car_dir[8];   /* ±1 */
    int car_speed[8]; /* 1..5: the car moves once every car_speed steps */
    int car_timer[8]; /* steps until its next move (it moves on the step this reaches 0) */
} dr3mt_freeway;

/* Asterix: the player in rows 1–8; lane i (row i + 1) holds at most one enemy or gold. */
typedef struct dr3mt_asterix_obj {
    int active, x, dir, gold;
} dr3mt_asterix_obj;
typedef struct dr3mt_asterix {
    int player_x, player_y;
    dr3mt_asterix_obj obj[8];
    int spawn_interval, spawn_timer; /* a spawn when spawn_timer counts down to 0 */
    int move_interval, move_timer;   /* objects move when move_timer counts down to 0 */
    int ramp_timer, ramps;           /* a ramp every 100 steps when ramping is on */
} dr3mt_asterix;

/* Space Invaders: the cannon on row 9. */
typedef struct dr3mt_space_invaders {
    int cannon_x;
    uint8_t alien[10][10];
    uint8_t fbullet[10][10]; /* the player's bullets, moving up */
    uint8_t ebullet[10][10]; /* the aliens' bullets, moving down */
    int alien_dir;           /* −1 left, +1 right */
    int base_interval; /* steps per alien move of this wave while ≥ that many aliens live */
    int move_timer;    /* the aliens move when this counts down to 0 */
    int shot_cooldown; /* steps before the cannon may fire again */
    int enemy_shot_timer; /* an alien fires when this counts down to 0 */
    int waves;            /* waves cleared */
} dr3mt_space_invaders;

/* Seaquest: the surface is row 0, lanes are rows 1–8, the gauges are drawn in row 9. */
typedef struct dr3mt_seaquest_obj {
    int active, x, dir;
    int sub;   /* enemies: 1 a submarine (fires), 0 a fish */
    int timer; /* enemy submarines: steps until the next shot */
} dr3mt_seaquest_obj;
typedef struct dr3mt_seaquest {
    int x, y, facing; /* the sub's front cell and its facing (±1); the back is at x − facing */
    int oxygen;       /* 0..200 */
    int divers;       /* rescued divers on board, 0..6 */
    int shot_cooldown;      /* steps before the sub may fire again */
    int8_t fbullet[10][10]; /* the player's bullets: 0 none, else their direction ±1 */
    int8_t ebullet[10][10]; /* the enemy submarines' bullets, likewise */
    dr3mt_seaquest_obj enemy[8], diver[8]; /* lane i is row i + 1 */
    int enemy_spawn_interval, enemy_spawn_timer;
    int enemy_move_interval, enemy_move_timer;
    int diver_spawn_timer, diver_move_timer;
    int surfacings; /* times surfaced with divers (the ramp count) */
} dr3mt_seaquest;

/* The state of a running game of that kind, or NULL for another game or NULL env. Edit it
 * between dr3mt_reset and dr3mt_step. */
dr3mt_breakout *dr3mt_state_breakout(dr3mt *env);
dr3mt_freeway *dr3mt_state_freeway(dr3mt *env);
dr3mt_asterix *dr3mt_state_asterix(dr3mt *env);
dr3mt_space_invaders *dr3mt_state_space_invaders(dr3mt *env);
dr3mt_seaquest *dr3mt_state_seaquest(dr3mt *env);

#endif
