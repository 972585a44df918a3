"""The asyncio order manager: works parents in sweeps between the trader and venue edges."""
