"""One case per example of the labelling guide (../shared/labels/GUIDE.md), in our own words: the rules alone
and the learned classifier must both get each of them right."""

GUIDE_EXAMPLES = [
    (
        "Lawmaker urges nationwide blockchain infrastructure for public services as Beijing keeps bitcoin "
        "mining ban",
        ("The proposal would put government services and supply chains on a state blockchain, while "
         "authorities continue the crackdown on crypto trading."),
        ["adoption", "mining", "regulation"],
    ),
    (
        "SEC sues trading platform for running an unregistered securities exchange",
        "The regulator says the company offered crypto asset securities without registering.",
        ["regulation"],
    ),
    ("El Salvador buys 100 more BTC for its national reserve", "", ["adoption"]),
    ("Bitcoin hashrate reaches new record as mining difficulty rises 5%", "", ["mining"]),
    ("Kazakhstan raises electricity tax on crypto miners", "", ["mining", "regulation"]),
    ("Bitcoin price falls below $60,000 as traders de-risk", "", []),
    ("DeFi lending protocol loses $20 million in exploit", "Attackers drained a liquidity pool.", []),
    ("Ethereum validators earn record staking rewards", "", []),
]
