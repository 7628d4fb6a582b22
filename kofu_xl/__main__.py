from kofu_xl.cli import run

if __name__ == "__main__":  # not when multiprocessing (spawn) imports this module in a worker
    raise SystemExit(run())
