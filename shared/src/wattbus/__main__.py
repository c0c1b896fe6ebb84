from wattbus.main import main

main()
