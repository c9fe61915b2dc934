from sim.console import ConsoleAgent
from sim.env import ListeningSessionEnv
from sim.stepwise import run_session


def test_console_agent_reprompts_until_a_valid_track(world):
    answers = iter(["abc", str(world.catalog.n_tracks), " 42 "])
    shown = []
    agent = ConsoleAgent(world.catalog, read=lambda prompt: next(answers), write=shown.append)
    assert agent.next_track(1, 7, 0.5) == 42
    assert shown[0].startswith("user 1 listened to 50% of #7 ")
    assert "'abc' is not a track id" in shown[1]
    assert world.catalog.titles[42] in shown[-1]


def test_person_can_play_a_whole_session(world):
    shown = []
    agent = ConsoleAgent(world.catalog, read=lambda prompt: "0", write=shown.append)
    outcome = run_session(ListeningSessionEnv(world), agent, key=3)
    assert outcome.requests == outcome.tracks + 1
    assert shown[-1].endswith("session over")
