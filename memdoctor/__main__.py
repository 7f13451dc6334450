from memdoctor.cli import main

main()
