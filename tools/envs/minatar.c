/* MinAtar-style games written from the published rules (docs/minatar.md): the common part
 * (creation, sticky actions, observation layout, input checks) and the five games. */
#include "minatar_state.h"

#include <stdlib.h>
#include <string.h>

const char *const dr3mt_names[] = {"breakout",       "freeway",  "asterix",
                                   "space_invaders", "seaquest", NULL};

enum game { BREAKOUT, FREEWAY, ASTERIX, SPACE_INVADERS, SEAQUEST, NUM_GAMES };

/* MinAtar's full action set; each game's minimal set maps onto it. */
enum move { NOOP, LEFT, UP, RIGHT, DOWN, FIRE };

static const int game_channels[NUM_GAMES] = {4, 7, 4, 6, 10};
static const int game_num_actions[NUM_GAMES] = {3, 3, 5, 4, 6};
static const enum move game_actions[NUM_GAMES][6] = {
    {NOOP, LEFT, RIGHT},
    {NOOP, UP, DOWN},
    {NOOP, LEFT, UP, RIGHT, DOWN},
    {NOOP, LEFT, RIGHT, FIRE},
    {NOOP, LEFT, UP, RIGHT, DOWN, FIRE},
};

/* Constants the published rules leave open; docs/minatar.md gives the reasons. */
#define FREEWAY_CHICKEN_X   4
#define FREEWAY_MOVE_PERIOD 3 /* the chicken moves at most once every 3 steps (MinAtar) */
#define FREEWAY_TIME_LIMIT  2500
#define ASTERIX_SPAWN0      10
#define ASTERIX_MOVE0       5
#define ASTERIX_RAMP_PERIOD 100
#define SI_MOVE0            12
#define SI_SHOT_PERIOD      5
#define SI_ENEMY_SHOT       10
#define SQ_OXYGEN           200
#define SQ_MAX_DIVERS       6
#define SQ_SHOT_PERIOD      5
#define SQ_ENEMY_SPAWN0     20
#define SQ_ENEMY_MOVE0      5
#define SQ_ENEMY_SHOT       10
#define SQ_DIVER_SPAWN      30
#define SQ_DIVER_MOVE       5

struct dr3mt {
    enum game game;
    dr3mt_options opts;
    dr3_rng rng;
    int last_action; /* executed action index, −1 before the first step of an episode */
    size_t steps;
    int running;
    union {
        dr3mt_breakout bo;
        dr3mt_freeway fw;
        dr3mt_asterix ax;
        dr3mt_space_invaders si;
        dr3mt_seaquest sq;
    } g;
};

dr3mt_options dr3mt_default_options(void) {
    dr3mt_options o = {0.1, 1};
    return o;
}

dr3_status dr3mt_create(dr3mt **out, const char *game, uint64_t seed,
                        const dr3mt_options *opts) {
    if (out == NULL) return DR3_ERR_INVALID_ARG;
    *out = NULL;
    if (game == NULL) return DR3_ERR_INVALID_ARG;
    int k = -1;
    for (int i = 0; i < NUM_GAMES; i++)
        if (strcmp(game, dr3mt_names[i]) == 0) k = i;
    if (k < 0) return DR3_ERR_INVALID_ARG;
    dr3mt_options o = opts != NULL ? *opts : dr3mt_default_options();
    if (!(o.sticky_action_prob >= 0.0 && o.sticky_action_prob <= 1.0))
        return DR3_ERR_INVALID_ARG;
    dr3mt *e = calloc(1, sizeof *e);
    if (e == NULL) return DR3_ERR_NOMEM;
    e->game = (enum game)k;
    e->opts = o;
    e->last_action = -1;
    dr3_rng_seed(&e->rng, seed);
    *out = e;
    return DR3_OK;
}

void dr3mt_free(dr3mt *env) { free(env); }

const char *dr3mt_name(const dr3mt *env) { return dr3mt_names[env->game]; }
size_t dr3mt_num_channels(const dr3mt *env) { return (size_t)game_channels[env->game]; }
size_t dr3mt_num_actions(const dr3mt *env) { return (size_t)game_num_actions[env->game]; }
size_t dr3mt_obs_size(const dr3mt *env) { return dr3mt_num_channels(env) * DR3MT_CELLS; }
int dr3mt_last_action(const dr3mt *env) { return env->last_action; }
size_t dr3mt_steps(const dr3mt *env) { return env->steps; }

static int below(dr3mt *e, int n) { return (int)dr3_rng_below(&e->rng, (uint64_t)n); }
static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }
static int on_grid(int x, int y) {
    return x >= 0 && x < DR3MT_COLS && y >= 0 && y < DR3MT_ROWS;
}
static void set_cell(uint8_t *obs, int c, int x, int y) {
    if (on_grid(x, y)) obs[c * DR3MT_CELLS + y * DR3MT_COLS + x] = 1;
}

/* ---------------------------------------------------------------- Breakout */
/* Channels: 0 paddle, 1 ball, 2 trail, 3 brick. The trail is the cell behind the ball
 * along its current direction, so one frame shows where the ball goes next. */

static void breakout_fill(dr3mt_breakout *s) {
    for (int y = 1; y <= 3; y++)
        for (int x = 0; x < DR3MT_COLS; x++) s->brick[y][x] = 1;
}

static void breakout_reset(dr3mt *e) {
    dr3mt_breakout *s = &e->g.bo;
    memset(s, 0, sizeof *s);
    breakout_fill(s);
    s->paddle = 4;
    s->ball_y = 4; /* the row below the wall, falling towards the paddle */
    s->dy = 1;
    if (below(e, 2) == 0) {
        s->ball_x = 0;
        s->dx = 1;
    } else {
        s->ball_x = DR3MT_COLS - 1;
        s->dx = -1;
    }
}

static void breakout_step(dr3mt *e, enum move a, float *reward, int *terminal) {
    dr3mt_breakout *s = &e->g.bo;
    if (a == LEFT) s->paddle = clampi(s->paddle - 1, 0, DR3MT_COLS - 1);
    if (a == RIGHT) s->paddle = clampi(s->paddle + 1, 0, DR3MT_COLS - 1);

    /* Walls reflect the ball before it leaves the grid. */
    int nx = s->ball_x + s->dx, ny = s->ball_y + s->dy;
    if (nx < 0 || nx >= DR3MT_COLS) {
        s->dx = -s->dx;
        nx = s->ball_x + s->dx;
    }
    if (ny < 0) {
        s->dy = -s->dy;
        ny = s->ball_y + s->dy;
    }
    if (s->brick[ny][nx]) {
        /* A brick breaks and the ball is reflected vertically without entering the cell. */
        s->brick[ny][nx] = 0;
        *reward += 1.0f;
        s->dy = -s->dy;
    } else if (ny == DR3MT_ROWS - 1) {
        if (s->paddle == nx) {
            /* Caught on the paddle's top: reflected upward, keeping its sideways motion. */
            s->dy = -1;
        } else if (s->paddle == s->ball_x) {
            /* Clipped by the paddle's edge as it passes over: sent back the way it came. */
            s->dy = -1;
            s->dx = -s->dx;
        } else {
            s->ball_x = nx;
            s->ball_y = ny;
            *terminal = 1;
        }
    } else {
        s->ball_x = nx;
        s->ball_y = ny;
    }
    int left = 0;
    for (int y = 0; y < DR3MT_ROWS; y++)
        for (int x = 0; x < DR3MT_COLS; x++) left += s->brick[y][x];
    if (left == 0) breakout_fill(s);
}

static void breakout_observe(const dr3mt *e, uint8_t *obs) {
    const dr3mt_breakout *s = &e->g.bo;
    set_cell(obs, 0, s->paddle, DR3MT_ROWS - 1);
    set_cell(obs, 1, s->ball_x, s->ball_y);
    set_cell(obs, 2, s->ball_x - s->dx, s->ball_y - s->dy);
    for (int y = 0; y < DR3MT_ROWS; y++)
        for (int x = 0; x < DR3MT_COLS; x++)
            if (s->brick[y][x]) set_cell(obs, 3, x, y);
}

/* ---------------------------------------------------------------- Freeway */
/* Channels: 0 chicken, 1 car, 2..6 the trail of a car of speed 1..5 (the cell behind it). */

static void freeway_randomize_cars(dr3mt *e) {
    dr3mt_freeway *s = &e->g.fw;
    for (int i = 0; i < 8; i++) {
        s->car_speed[i] = 1 + below(e, 5);
        s->car_dir[i] = below(e, 2) == 0 ? -1 : 1;
        s->car_timer[i] = s->car_speed[i];
    }
}

static void freeway_reset(dr3mt *e) {
    dr3mt_freeway *s = &e->g.fw;
    memset(s, 0, sizeof *s);
    s->chicken_y = DR3MT_ROWS - 1;
    for (int i = 0; i < 8; i++) s->car_x[i] = below(e, DR3MT_COLS);
    freeway_randomize_cars(e);
}

static int freeway_hit(const dr3mt_freeway *s) {
    int lane = s->chicken_y - 1;
    return lane >= 0 && lane < 8 && s->car_x[lane] == FREEWAY_CHICKEN_X;
}

static void freeway_step(dr3mt *e, enum move a, float *reward, int *terminal) {
    dr3mt_freeway *s = &e->g.fw;
    int dy = a == UP ? -1 : a == DOWN ? 1 : 0;
    int ny = clampi(s->chicken_y + dy, 0, DR3MT_ROWS - 1);
    if (s->cooldown > 0) {
        s->cooldown--;
    } else if (ny != s->chicken_y) {
        s->chicken_y = ny;
        s->cooldown = FREEWAY_MOVE_PERIOD - 1;
    }
    if (s->chicken_y == 0) {
        *reward += 1.0f;
        s->chicken_y = DR3MT_ROWS - 1;
        freeway_randomize_cars(e);
    }
    if (freeway_hit(s)) s->chicken_y = DR3MT_ROWS - 1;
    for (int i = 0; i < 8; i++) {
        if (--s->car_timer[i] > 0) continue;
        s->car_timer[i] = s->car_speed[i];
        s->car_x[i] = (s->car_x[i] + s->car_dir[i] + DR3MT_COLS) % DR3MT_COLS;
    }
    if (freeway_hit(s)) s->chicken_y = DR3MT_ROWS - 1;
    if (e->steps + 1 >= FREEWAY_TIME_LIMIT) *terminal = 1;
}

static void freeway_observe(const dr3mt *e, uint8_t *obs) {
    const dr3mt_freeway *s = &e->g.fw;
    set_cell(obs, 0, FREEWAY_CHICKEN_X, s->chicken_y);
    for (int i = 0; i < 8; i++) {
        set_cell(obs, 1, s->car_x[i], i + 1);
        int tx = (s->car_x[i] - s->car_dir[i] + DR3MT_COLS) % DR3MT_COLS;
        set_cell(obs, 1 + s->car_speed[i], tx, i + 1);
    }
}

/* ---------------------------------------------------------------- Asterix */
/* Channels: 0 player, 1 enemy, 2 trail, 3 gold. */

static void asterix_reset(dr3mt *e) {
    dr3mt_asterix *s = &e->g.ax;
    memset(s, 0, sizeof *s);
    s->player_x = 5;
    s->player_y = 5;
    s->spawn_interval = s->spawn_timer = ASTERIX_SPAWN0;
    s->move_interval = s->move_timer = ASTERIX_MOVE0;
    s->ramp_timer = ASTERIX_RAMP_PERIOD;
}

/* Resolves the player meeting the object of its lane: gold is collected, an enemy ends. */
static void asterix_contact(dr3mt_asterix *s, float *reward, int *terminal) {
    dr3mt_asterix_obj *o = &s->obj[s->player_y - 1];
    if (!o->active || o->x != s->player_x) return;
    if (o->gold) {
        *reward += 1.0f;
        o->active = 0;
    } else {
        *terminal = 1;
    }
}

static void asterix_step(dr3mt *e, enum move a, float *reward, int *terminal) {
    dr3mt_asterix *s = &e->g.ax;
    if (a == LEFT) s->player_x = clampi(s->player_x - 1, 0, DR3MT_COLS - 1);
    if (a == RIGHT) s->player_x = clampi(s->player_x + 1, 0, DR3MT_COLS - 1);
    if (a == UP) s->player_y = clampi(s->player_y - 1, 1, 8);
    if (a == DOWN) s->player_y = clampi(s->player_y + 1, 1, 8);
    asterix_contact(s, reward, terminal);

    if (--s->spawn_timer <= 0) {
        s->spawn_timer = s->spawn_interval;
        int free_lanes[8], nfree = 0;
        for (int i = 0; i < 8; i++)
            if (!s->obj[i].active) free_lanes[nfree++] = i;
        if (nfree > 0) {
            dr3mt_asterix_obj *o = &s->obj[free_lanes[below(e, nfree)]];
            o->active = 1;
            int from_left = below(e, 2) == 0;
            o->x = from_left ? 0 : DR3MT_COLS - 1;
            o->dir = from_left ? 1 : -1;
            o->gold = below(e, 3) == 0;
        }
        asterix_contact(s, reward, terminal);
    }
    if (--s->move_timer <= 0) {
        s->move_timer = s->move_interval;
        for (int i = 0; i < 8; i++) {
            dr3mt_asterix_obj *o = &s->obj[i];
            if (!o->active) continue;
            o->x += o->dir;
            if (o->x < 0 || o->x >= DR3MT_COLS) o->active = 0;
        }
        asterix_contact(s, reward, terminal);
    }
    if (e->opts.difficulty_ramping && --s->ramp_timer <= 0) {
        s->ramp_timer = ASTERIX_RAMP_PERIOD;
        s->ramps++;
        if (s->spawn_interval > 1) s->spawn_interval--;
        if (s->ramps % 2 == 0 && s->move_interval > 1) s->move_interval--;
    }
}

static void asterix_observe(const dr3mt *e, uint8_t *obs) {
    const dr3mt_asterix *s = &e->g.ax;
    set_cell(obs, 0, s->player_x, s->player_y);
    for (int i = 0; i < 8; i++) {
        const dr3mt_asterix_obj *o = &s->obj[i];
        if (!o->active) continue;
        set_cell(obs, o->gold ? 3 : 1, o->x, i + 1);
        set_cell(obs, 2, o->x - o->dir, i + 1);
    }
}

/* ---------------------------------------------------------------- Space Invaders */
/* Channels: 0 cannon, 1 alien, 2 alien moving left, 3 alien moving right, 4 the player's
 * bullets, 5 the aliens' bullets. */

static void si_wave(dr3mt_space_invaders *s) {
    memset(s->alien, 0, sizeof s->alien);
    for (int y = 0; y <= 3; y++)
        for (int x = 2; x <= 7; x++) s->alien[y][x] = 1;
    s->alien_dir = -1;
    s->move_timer = s->base_interval;
}

static void si_reset(dr3mt *e) {
    dr3mt_space_invaders *s = &e->g.si;
    memset(s, 0, sizeof *s);
    s->cannon_x = 5;
    s->base_interval = SI_MOVE0;
    s->enemy_shot_timer = SI_ENEMY_SHOT;
    si_wave(s);
}

static int si_count(const dr3mt_space_invaders *s) {
    int n = 0;
    for (int y = 0; y < DR3MT_ROWS; y++)
        for (int x = 0; x < DR3MT_COLS; x++) n += s->alien[y][x];
    return n;
}

/* A player's bullet and an alien in the same cell destroy each other for +1. */
static void si_hits(dr3mt_space_invaders *s, float *reward) {
    for (int y = 0; y < DR3MT_ROWS; y++)
        for (int x = 0; x < DR3MT_COLS; x++)
            if (s->fbullet[y][x] && s->alien[y][x]) {
                s->fbullet[y][x] = s->alien[y][x] = 0;
                *reward += 1.0f;
            }
}

static void si_move_aliens(dr3mt_space_invaders *s) {
    int edge = 0;
    for (int y = 0; y < DR3MT_ROWS; y++) {
        if (s->alien_dir < 0 && s->alien[y][0]) edge = 1;
        if (s->alien_dir > 0 && s->alien[y][DR3MT_COLS - 1]) edge = 1;
    }
    uint8_t moved[10][10] = {{0}};
    for (int y = 0; y < DR3MT_ROWS; y++)
        for (int x = 0; x < DR3MT_COLS; x++) {
            if (!s->alien[y][x]) continue;
            int ny = edge ? y + 1 : y, nx = edge ? x : x + s->alien_dir;
            if (on_grid(nx, ny)) moved[ny][nx] = 1;
        }
    memcpy(s->alien, moved, sizeof moved);
    if (edge) s->alien_dir = -s->alien_dir;
}

static void si_step(dr3mt *e, enum move a, float *reward, int *terminal) {
    dr3mt_space_invaders *s = &e->g.si;
    const int bottom = DR3MT_ROWS - 1;
    if (a == LEFT) s->cannon_x = clampi(s->cannon_x - 1, 0, DR3MT_COLS - 1);
    if (a == RIGHT) s->cannon_x = clampi(s->cannon_x + 1, 0, DR3MT_COLS - 1);
    if (a == FIRE && s->shot_cooldown == 0) {
        s->fbullet[bottom][s->cannon_x] = 1; /* leaves the cannon's cell below */
        s->shot_cooldown = SI_SHOT_PERIOD;
    }
    /* Bullets advance one cell a step: the player's up, the aliens' down. */
    for (int y = 0; y < DR3MT_ROWS; y++)
        for (int x = 0; x < DR3MT_COLS; x++) {
            s->fbullet[y][x] = y + 1 < DR3MT_ROWS ? s->fbullet[y + 1][x] : 0;
        }
    for (int y = DR3MT_ROWS - 1; y >= 0; y--)
        for (int x = 0; x < DR3MT_COLS; x++)
            s->ebullet[y][x] = y > 0 ? s->ebullet[y - 1][x] : 0;
    si_hits(s, reward);

    int n = si_count(s);
    if (n > 0 && --s->move_timer <= 0) {
        si_move_aliens(s);
        si_hits(s, reward);
        n = si_count(s);
        /* Fewer aliens than the wave's interval move faster: one alone moves every step. */
        s->move_timer = n < s->base_interval ? (n > 0 ? n : 1) : s->base_interval;
    }
    if (n > 0 && --s->enemy_shot_timer <= 0) {
        s->enemy_shot_timer = SI_ENEMY_SHOT;
        /* The lowest alien of the occupied column nearest the cannon (left on a tie). */
        int best_x = -1, best_y = -1;
        for (int x = 0; x < DR3MT_COLS; x++)
            for (int y = 0; y < DR3MT_ROWS; y++) {
                if (!s->alien[y][x]) continue;
                int d = abs(x - s->cannon_x), bd = abs(best_x - s->cannon_x);
                if (best_x < 0 || d < bd || (x == best_x && y > best_y)) {
                    best_x = x;
                    best_y = y;
                }
            }
        if (best_y + 1 < DR3MT_ROWS) s->ebullet[best_y + 1][best_x] = 1;
    }
    for (int x = 0; x < DR3MT_COLS; x++)
        if (s->alien[bottom][x]) *terminal = 1; /* the aliens reached the cannon's row */
    if (s->ebullet[bottom][s->cannon_x]) *terminal = 1;
    if (n == 0) {
        s->waves++;
        if (e->opts.difficulty_ramping && s->base_interval > 1) s->base_interval--;
        memset(s->fbullet, 0, sizeof s->fbullet);
        si_wave(s);
    }
    if (s->shot_cooldown > 0) s->shot_cooldown--;
}

static void si_observe(const dr3mt *e, uint8_t *obs) {
    const dr3mt_space_invaders *s = &e->g.si;
    set_cell(obs, 0, s->cannon_x, DR3MT_ROWS - 1);
    for (int y = 0; y < DR3MT_ROWS; y++)
        for (int x = 0; x < DR3MT_COLS; x++) {
            if (s->alien[y][x]) {
                set_cell(obs, 1, x, y);
                set_cell(obs, s->alien_dir < 0 ? 2 : 3, x, y);
            }
            if (s->fbullet[y][x]) set_cell(obs, 4, x, y);
            if (s->ebullet[y][x]) set_cell(obs, 5, x, y);
        }
}

/* ---------------------------------------------------------------- Seaquest */
/* Channels: 0 sub front, 1 sub back, 2 the player's bullets, 3 trail (enemies and divers),
 * 4 enemy bullets, 5 enemy fish, 6 enemy submarine, 7 oxygen gauge, 8 diver gauge,
 * 9 diver. */

static void seaquest_reset(dr3mt *e) {
    dr3mt_seaquest *s = &e->g.sq;
    memset(s, 0, sizeof *s);
    s->x = 5;
    s->y = 0;
    s->facing = 1;
    s->oxygen = SQ_OXYGEN;
    s->enemy_spawn_interval = s->enemy_spawn_timer = SQ_ENEMY_SPAWN0;
    s->enemy_move_interval = s->enemy_move_timer = SQ_ENEMY_MOVE0;
    s->diver_spawn_timer = SQ_DIVER_SPAWN;
    s->diver_move_timer = SQ_DIVER_MOVE;
}

/* Cells of the oxygen bar: 10 when full, 0 exactly when the oxygen is gone. */
static int seaquest_oxygen_cells(const dr3mt_seaquest *s) {
    return (s->oxygen * DR3MT_COLS + SQ_OXYGEN - 1) / SQ_OXYGEN;
}

/* The sub's front cell meeting what is there: an enemy or an enemy bullet ends the episode;
 * a diver is taken aboard while there is room. */
static void seaquest_contact(dr3mt_seaquest *s, int *terminal) {
    if (s->ebullet[s->y][s->x]) *terminal = 1;
    if (s->y < 1 || s->y > 8) return;
    const dr3mt_seaquest_obj *en = &s->enemy[s->y - 1];
    if (en->active && en->x == s->x) *terminal = 1;
    dr3mt_seaquest_obj *d = &s->diver[s->y - 1];
    if (d->active && d->x == s->x && s->divers < SQ_MAX_DIVERS) {
        d->active = 0;
        s->divers++;
    }
}

/* A player's bullet and an enemy in one cell destroy each other: +1. */
static void seaquest_hits(dr3mt_seaquest *s, float *reward) {
    for (int i = 0; i < 8; i++) {
        dr3mt_seaquest_obj *en = &s->enemy[i];
        if (en->active && s->fbullet[i + 1][en->x]) {
            s->fbullet[i + 1][en->x] = 0;
            en->active = 0;
            *reward += 1.0f;
        }
    }
}

static void seaquest_spawn(dr3mt *e, dr3mt_seaquest_obj *lanes, int is_enemy) {
    int free_lanes[8], nfree = 0;
    for (int i = 0; i < 8; i++)
        if (!lanes[i].active) free_lanes[nfree++] = i;
    if (nfree == 0) return;
    dr3mt_seaquest_obj *o = &lanes[free_lanes[below(e, nfree)]];
    memset(o, 0, sizeof *o);
    o->active = 1;
    int from_left = below(e, 2) == 0;
    o->x = from_left ? 0 : DR3MT_COLS - 1;
    o->dir = from_left ? 1 : -1;
    if (is_enemy) {
        o->sub = below(e, 3) == 0;
        o->timer = SQ_ENEMY_SHOT;
    }
}

static void seaquest_move(dr3mt_seaquest_obj *lanes) {
    for (int i = 0; i < 8; i++) {
        dr3mt_seaquest_obj *o = &lanes[i];
        if (!o->active) continue;
        o->x += o->dir;
        if (o->x < 0 || o->x >= DR3MT_COLS) o->active = 0;
    }
}

/* Moves every bullet of a grid one cell along its direction; those leaving are gone. */
static void seaquest_move_bullets(int8_t b[10][10]) {
    int8_t moved[10][10] = {{0}};
    for (int y = 0; y < DR3MT_ROWS; y++)
        for (int x = 0; x < DR3MT_COLS; x++) {
            int nx = x + b[y][x];
            if (b[y][x] != 0 && nx >= 0 && nx < DR3MT_COLS) moved[y][nx] = b[y][x];
        }
    memcpy(b, moved, sizeof moved);
}

static void seaquest_step(dr3mt *e, enum move a, float *reward, int *terminal) {
    dr3mt_seaquest *s = &e->g.sq;
    int was_under = s->y > 0;
    if (a == LEFT || a == RIGHT) {
        s->facing = a == LEFT ? -1 : 1;
        s->x = clampi(s->x + s->facing, 0, DR3MT_COLS - 1);
    }
    if (a == UP) s->y = clampi(s->y - 1, 0, 8);
    if (a == DOWN) s->y = clampi(s->y + 1, 0, 8);
    if (a == FIRE && s->shot_cooldown == 0) {
        /* the bullet starts in the sub's front cell and moves with the others below */
        s->fbullet[s->y][s->x] = (int8_t)s->facing;
        s->shot_cooldown = SQ_SHOT_PERIOD;
    }
    seaquest_contact(s, terminal);

    if (s->y == 0 && was_under) {
        /* Surfacing: without divers it ends the episode; with fewer than six one diver
         * leaves and the oxygen refills; with six all leave, each oxygen cell pays +1. */
        if (s->divers == 0) {
            *terminal = 1;
        } else {
            if (s->divers == SQ_MAX_DIVERS) {
                *reward += (float)seaquest_oxygen_cells(s);
                s->divers = 0;
            } else {
                s->divers--;
            }
            s->oxygen = SQ_OXYGEN;
            s->surfacings++;
            if (e->opts.difficulty_ramping) {
                if (s->enemy_spawn_interval > 1) s->enemy_spawn_interval--;
                if (s->surfacings % 2 == 0 && s->enemy_move_interval > 1)
                    s->enemy_move_interval--;
            }
        }
    } else if (s->y > 0 && --s->oxygen <= 0) {
        s->oxygen = 0;
        *terminal = 1;
    }

    seaquest_move_bullets(s->fbullet);
    seaquest_hits(s, reward);
    seaquest_move_bullets(s->ebullet);
    if (--s->enemy_spawn_timer <= 0) {
        s->enemy_spawn_timer = s->enemy_spawn_interval;
        seaquest_spawn(e, s->enemy, 1);
    }
    if (--s->enemy_move_timer <= 0) {
        s->enemy_move_timer = s->enemy_move_interval;
        seaquest_move(s->enemy);
        seaquest_hits(s, reward);
    }
    if (--s->diver_spawn_timer <= 0) {
        s->diver_spawn_timer = SQ_DIVER_SPAWN;
        seaquest_spawn(e, s->diver, 0);
    }
    if (--s->diver_move_timer <= 0) {
        s->diver_move_timer = SQ_DIVER_MOVE;
        seaquest_move(s->diver);
    }
    /* enemy submarines fire ahead of themselves every 10 steps */
    for (int i = 0; i < 8; i++) {
        dr3mt_seaquest_obj *en = &s->enemy[i];
        if (!en->active || !en->sub || --en->timer > 0) continue;
        en->timer = SQ_ENEMY_SHOT;
        int bx = en->x + en->dir;
        if (bx >= 0 && bx < DR3MT_COLS) s->ebullet[i + 1][bx] = (int8_t)en->dir;
    }
    seaquest_contact(s, terminal);
    if (s->shot_cooldown > 0) s->shot_cooldown--;
}

static void seaquest_observe(const dr3mt *e, uint8_t *obs) {
    const dr3mt_seaquest *s = &e->g.sq;
    set_cell(obs, 0, s->x, s->y);
    set_cell(obs, 1, s->x - s->facing, s->y);
    for (int y = 0; y < DR3MT_ROWS; y++)
        for (int x = 0; x < DR3MT_COLS; x++) {
            if (s->fbullet[y][x]) set_cell(obs, 2, x, y);
            if (s->ebullet[y][x]) set_cell(obs, 4, x, y);
        }
    for (int i = 0; i < 8; i++) {
        const dr3mt_seaquest_obj *en = &s->enemy[i], *d = &s->diver[i];
        if (en->active) {
            set_cell(obs, en->sub ? 6 : 5, en->x, i + 1);
            set_cell(obs, 3, en->x - en->dir, i + 1);
        }
        if (d->active) {
            set_cell(obs, 9, d->x, i + 1);
            set_cell(obs, 3, d->x - d->dir, i + 1);
        }
    }
    int cells = seaquest_oxygen_cells(s);
    for (int x = 0; x < cells; x++) set_cell(obs, 7, x, DR3MT_ROWS - 1);
    for (int x = 0; x < s->divers; x++) set_cell(obs, 8, x, DR3MT_ROWS - 1);
}

/* ---------------------------------------------------------------- common */

dr3_status dr3mt_observe(const dr3mt *e, uint8_t *obs) {
    if (e == NULL || obs == NULL) return DR3_ERR_INVALID_ARG;
    memset(obs, 0, dr3mt_obs_size(e));
    switch (e->game) {
    case BREAKOUT:
        breakout_observe(e, obs);
        break;
    case FREEWAY:
        freeway_observe(e, obs);
        break;
    case ASTERIX:
        asterix_observe(e, obs);
        break;
    case SPACE_INVADERS:
        si_observe(e, obs);
        break;
    case SEAQUEST:
        seaquest_observe(e, obs);
        break;
    case NUM_GAMES:
        break;
    }
    return DR3_OK;
}

dr3_status dr3mt_reset(dr3mt *e, uint8_t *obs) {
    if (e == NULL || obs == NULL) return DR3_ERR_INVALID_ARG;
    switch (e->game) {
    case BREAKOUT:
        breakout_reset(e);
        break;
    case FREEWAY:
        freeway_reset(e);
        break;
    case ASTERIX:
        asterix_reset(e);
        break;
    case SPACE_INVADERS:
        si_reset(e);
        break;
    case SEAQUEST:
        seaquest_reset(e);
        break;
    case NUM_GAMES:
        break;
    }
    e->last_action = -1;
    e->steps = 0;
    e->running = 1;
    return dr3mt_observe(e, obs);
}

dr3_status dr3mt_step(dr3mt *e, int action, uint8_t *obs, float *reward, int *terminal) {
    if (e == NULL || obs == NULL || reward == NULL || terminal == NULL)
        return DR3_ERR_INVALID_ARG;
    if (action < 0 || action >= game_num_actions[e->game]) return DR3_ERR_RANGE;
    if (!e->running) return DR3_ERR_STATE;
    /* Sticky actions: the previous executed action (no-op at an episode's start) is
     * repeated with probability p. */
    if (e->opts.sticky_action_prob > 0.0 &&
        dr3_rng_uniform_double(&e->rng) < e->opts.sticky_action_prob)
        action = e->last_action < 0 ? 0 : e->last_action;
    e->last_action = action;
    enum move a = game_actions[e->game][action];
    float r = 0.0f;
    int term = 0;
    switch (e->game) {
    case BREAKOUT:
        breakout_step(e, a, &r, &term);
        break;
    case FREEWAY:
        freeway_step(e, a, &r, &term);
        break;
    case ASTERIX:
        asterix_step(e, a, &r, &term);
        break;
    case SPACE_INVADERS:
        si_step(e, a, &r, &term);
        break;
    case SEAQUEST:
        seaquest_step(e, a, &r, &term);
        break;
    case NUM_GAMES:
        break;
    }
    e->steps++;
    if (term) e->running = 0;
    *reward = r;
    *terminal = term;
    return dr3mt_observe(e, obs);
}

dr3mt_breakout *dr3mt_state_breakout(dr3mt *e) {
    return e != NULL && e->game == BREAKOUT ? &e->g.bo : NULL;
}
dr3mt_freeway *dr3mt_state_freeway(dr3mt *e) {
    return e != NULL && e->game == FREEWAY ? &e->g.fw : NULL;
}
dr3mt_asterix *dr3mt_state_asterix(dr3mt *e) {
    return e != NULL && e->game == ASTERIX ? &e->g.ax : NULL;
}
dr3mt_space_invaders *dr3mt_state_space_invaders(dr3mt *e) {
    return e != NULL && e->game == SPACE_INVADERS ? &e->g.si : NULL;
}
dr3mt_seaquest *dr3mt_state_seaquest(dr3mt *e) {
    return e != NULL && e->game == SEAQUEST ? &e->g.sq : NULL;
}
