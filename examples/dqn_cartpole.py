"""Double DQN on Gymnasium's CartPole-v1, trained with lamina: replay buffer, target network, epsilon-greedy.

    python examples/dqn_cartpole.py                 # the default size (minutes on 2 cores)
    python examples/dqn_cartpole.py --no-double     # plain DQN targets
    python examples/dqn_cartpole.py --quick         # a smoke run of a few seconds

The bar (issue 8): the greedy policy's average return over 100 evaluation episodes is >= 475 (500 is the most
an episode can give). During training the greedy policy is checked every --eval-every steps on 10 episodes
(seeds apart from the final evaluation's); the best checked weights are kept, and training stops early once a
check scores 500 on all of them. Writes returns.png (training returns and checks), td_loss.png and results.json.
"""

import sys
import time

import numpy as np

from lamina.models import DQNAgent, evaluate_policy, train_dqn

try:
    from examples import _genrl as common
except ImportError:  # run as a script: examples/ is on sys.path
    import _genrl as common

EVAL_SEED = 1_000_000  # the final evaluation's episodes start from seeds EVAL_SEED, EVAL_SEED + 1, ...


def main(argv=None):
    args = _parse(argv)
    with common.blas_threads(args.threads):
        return run(args)


def _parse(argv):
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=60_000, help="most environment steps (default: 60,000)")
    p.add_argument("--eval-every", type=int, default=2_500, help="steps between greedy checks (default: 2,500)")
    p.add_argument("--episodes", type=int, default=100, help="final evaluation episodes (default: 100)")
    p.add_argument("--hidden", type=int, nargs="+", default=[256, 256])
    p.add_argument("--lr", type=float, default=2.3e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--target-update", type=int, default=128, help="updates between target-network copies")
    p.add_argument("--tau", type=float, default=1.0,
                   help="soft target-update rate per update; 1 means hard copies every --target-update updates")
    p.add_argument("--eps-decay-steps", type=int, default=8_000)
    p.add_argument("--eps-end", type=float, default=0.04)
    p.add_argument("--check-episodes", type=int, default=10, help="episodes per greedy check (default: 10)")
    p.add_argument("--no-double", dest="double", action="store_false", help="plain DQN instead of Double DQN")
    return p.parse_args(argv)


def run(args):
    import gymnasium as gym

    out = common.out_dir(args, "dqn_cartpole")
    common.seed_all(args.seed)
    learning_starts = 1_000
    if args.quick:
        args.steps, args.eval_every, args.episodes, learning_starts = 1_500, 750, 3, 200
        args.hidden = [64, 64]
    env, eval_env, final_env = gym.make("CartPole-v1"), gym.make("CartPole-v1"), gym.make("CartPole-v1")
    eval_env.reset(seed=args.seed + 500_000)
    agent = DQNAgent(env.observation_space.shape[0], env.action_space.n, hidden=tuple(args.hidden), lr=args.lr,
                     batch_size=args.batch_size, learning_starts=learning_starts, target_update=args.target_update,
                     tau=args.tau, double=args.double, eps_end=args.eps_end,
                     eps_decay_steps=min(args.eps_decay_steps, args.steps // 2), seed=args.seed)
    kind = "Double DQN" if args.double else "DQN"
    print(f"{kind} on CartPole-v1: at most {args.steps} steps, greedy check every {args.eval_every} steps")
    t0 = time.perf_counter()
    res = train_dqn(env, agent, args.steps, seed=args.seed, eval_env=eval_env, eval_every=args.eval_every,
                    eval_episodes=args.check_episodes, stop_return=500.0, log=print)
    train_seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    returns = evaluate_policy(final_env, agent, args.episodes, seed=EVAL_SEED + args.seed)
    eval_seconds = time.perf_counter() - t1
    mean_return = float(np.mean(returns))
    losses = np.asarray(res["losses"], dtype=np.float64)

    ep = np.asarray(res["episode_returns"])
    ends = np.cumsum(ep)  # an episode's return is its length in CartPole: its last step
    curves = {"training episode return": (ends, ep)}
    if res["evaluations"]:
        steps, scores = zip(*res["evaluations"])
        curves["greedy check (10 episodes)"] = (np.asarray(steps), np.asarray(scores))
    common.plot_curves(curves, f"{out}/returns.png", f"{kind} on CartPole-v1", xlabel="environment step")
    if len(losses):
        w = max(1, len(losses) // 200)
        smooth = np.convolve(losses, np.ones(w) / w, mode="valid")
        common.plot_curves({f"TD loss (mean of {w} updates)": (np.arange(len(smooth)) + w, smooth)},
                           f"{out}/td_loss.png", "temporal-difference (Huber) loss", xlabel="update")
    print(f"\ntrained {res['steps']} steps ({len(ep)} episodes, {agent.updates} updates) in {train_seconds:.0f}s; "
          f"final evaluation: {args.episodes} greedy episodes in {eval_seconds:.0f}s, min {min(returns):.0f}, "
          f"max {max(returns):.0f}")
    rows = [(f"mean return of the greedy policy over {args.episodes} episodes", mean_return, f"{mean_return:.1f}",
             475.0, "475", True)]
    return common.report("dqn_cartpole", rows, out, args.quick, {
        "double": args.double, "steps": res["steps"], "episodes": len(ep), "updates": agent.updates,
        "mean_return": mean_return, "eval_returns": returns, "evaluations": res["evaluations"],
        "td_loss_finite": bool(len(losses) > 0 and np.isfinite(losses).all()),
        "first_td_loss": float(losses[:50].mean()) if len(losses) else None,
        "train_seconds": round(train_seconds, 1), "eval_seconds": round(eval_seconds, 1),
        "seconds": round(time.perf_counter() - t0, 1)})


if __name__ == "__main__":
    res = main()
    sys.exit(0 if res["met"] in (True, None) else 1)
