; NSIS installer for Latent Studio. Built on Windows by `python packaging/build.py nsis`, which
; passes every name and path below with -D (from packaging/identity.py), so this script holds
; no second copy of them.
;
; Installs the onedir bundle per machine under Program Files, adds a Start-menu entry, an
; "Open with" entry for images, and an uninstaller listed in Settings > Apps.

Unicode true
ManifestDPIAware true
SetCompressor /SOLID lzma
RequestExecutionLevel admin

!ifndef APP_NAME | APP_VERSION | APP_ID | EXECUTABLE | PUBLISHER | BUNDLE_DIR | ICON | OUT_FILE
  !error "run through python packaging/build.py nsis, which defines APP_NAME, BUNDLE_DIR and the rest"
!endif

!include "MUI2.nsh"
!include "x64.nsh"
!include "FileFunc.nsh"

!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP_ID}"
!define APP_PATHS_KEY "Software\Microsoft\Windows\CurrentVersion\App Paths\${EXECUTABLE}.exe"

Name "${APP_NAME} ${APP_VERSION}"
OutFile "${OUT_FILE}"
InstallDir "$PROGRAMFILES64\${APP_NAME}"
InstallDirRegKey HKLM "${UNINSTALL_KEY}" "InstallLocation"
BrandingText "${APP_NAME} ${APP_VERSION}"

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\${EXECUTABLE}.exe"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "${APP_NAME} needs 64-bit Windows."
    Abort
  ${EndIf}
  SetRegView 64
  ; Installed for every user of the machine: the Start-menu entry goes to the all-users menu.
  SetShellVarContext all
FunctionEnd

Function un.onInit
  SetRegView 64
  SetShellVarContext all
FunctionEnd

Section "${APP_NAME}" SecApp
  SectionIn RO
  ; A previous version's files are removed first, so libraries it shipped and this one does
  ; not are not left behind to be picked up by mistake.
  RMDir /r "$INSTDIR\_internal"
  SetOutPath "$INSTDIR"
  File /r "${BUNDLE_DIR}\*.*"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortcut "$SMPROGRAMS\${APP_NAME}.lnk" "$INSTDIR\${EXECUTABLE}.exe" "" "$INSTDIR\${EXECUTABLE}.exe" 0

  ; "Open with" for images, without taking over as the default viewer.
  WriteRegStr HKLM "Software\Classes\Applications\${EXECUTABLE}.exe\shell\open\command" "" '"$INSTDIR\${EXECUTABLE}.exe" "%1"'
  WriteRegStr HKLM "Software\Classes\Applications\${EXECUTABLE}.exe" "FriendlyAppName" "${APP_NAME}"
  !macro SUPPORT_TYPE EXT
    WriteRegStr HKLM "Software\Classes\Applications\${EXECUTABLE}.exe\SupportedTypes" "${EXT}" ""
    WriteRegStr HKLM "Software\Classes\${EXT}\OpenWithList\${EXECUTABLE}.exe" "" ""
  !macroend
  !insertmacro SUPPORT_TYPE ".png"
  !insertmacro SUPPORT_TYPE ".jpg"
  !insertmacro SUPPORT_TYPE ".jpeg"
  !insertmacro SUPPORT_TYPE ".webp"
  !insertmacro SUPPORT_TYPE ".bmp"
  !insertmacro SUPPORT_TYPE ".tif"
  !insertmacro SUPPORT_TYPE ".tiff"
  !insertmacro SUPPORT_TYPE ".gif"
  WriteRegStr HKLM "${APP_PATHS_KEY}" "" "$INSTDIR\${EXECUTABLE}.exe"

  ; Settings > Apps: name, version, size, uninstaller.
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayName" "${APP_NAME}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayVersion" "${APP_VERSION}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\${EXECUTABLE}.exe"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "EstimatedSize" "$0"
SectionEnd

Section "Uninstall"
  Delete "$SMPROGRAMS\${APP_NAME}.lnk"
  DeleteRegKey HKLM "Software\Classes\Applications\${EXECUTABLE}.exe"
  !macro UNSUPPORT_TYPE EXT
    DeleteRegKey HKLM "Software\Classes\${EXT}\OpenWithList\${EXECUTABLE}.exe"
  !macroend
  !insertmacro UNSUPPORT_TYPE ".png"
  !insertmacro UNSUPPORT_TYPE ".jpg"
  !insertmacro UNSUPPORT_TYPE ".jpeg"
  !insertmacro UNSUPPORT_TYPE ".webp"
  !insertmacro UNSUPPORT_TYPE ".bmp"
  !insertmacro UNSUPPORT_TYPE ".tif"
  !insertmacro UNSUPPORT_TYPE ".tiff"
  !insertmacro UNSUPPORT_TYPE ".gif"
  DeleteRegKey HKLM "${APP_PATHS_KEY}"
  DeleteRegKey HKLM "${UNINSTALL_KEY}"
  ; Only what the installer put there: the user's models, settings and logs live in their own
  ; folders (AppData) and are kept.
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\${EXECUTABLE}.exe"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
SectionEnd
