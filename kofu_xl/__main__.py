from kofu_xl.cli import main

if __name__ == "__main__":  # not when multiprocessing (spawn) imports this module in a worker
    raise SystemExit(main())
